// Package helm validates the dokkumcp Helm chart in deploy/helm/dokkumcp
// offline: it renders the chart with Helm's Go SDK for each values file,
// decodes every object strictly into its Kubernetes API type and checks the
// NetworkPolicies against the services' call graph. The module is not in
// go.work because Helm's requirements would join the workspace's build list;
// run it with `make chart-test`.
package helm
