"""The kube target: the appliance on an existing cluster named by a kubeconfig context."""
