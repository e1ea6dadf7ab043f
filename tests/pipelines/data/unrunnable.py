"""A container component and a component needing a package that is not installed."""

from kfp import dsl


@dsl.container_component
def shell() -> dsl.ContainerSpec:
    return dsl.ContainerSpec(image="alpine", command=["echo", "hi"])


@dsl.component(base_image="python:3.11", packages_to_install=["no-such-package-appliance>=1"])
def needy() -> int:
    return 1


@dsl.pipeline(name="unrunnable")
def unrunnable() -> None:
    shell()
    needy()
