package helm

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../../deploy/helm/dokkumcp"
	releaseName = "dokkumcp"
	namespace   = "dokkumcp"
)

// renderDir, when set, receives each values file's rendered manifests, for
// reading what the chart produces: go test ./... -args -render-dir=/tmp/chart
var renderDir = flag.String("render-dir", "", "directory to write the rendered manifests to")

var valuesFiles = []string{"values.yaml", "values-shared.yaml", "values-enterprise.yaml"}

var services = []string{"identity", "tenancy", "secrets", "dokkuexec", "mcpedge"}

// servicePorts are the ports each service listens on and the chart's
// NetworkPolicies open; every values file keeps them.
var servicePorts = map[string]int32{
	"mcpedge":   8080,
	"identity":  8081,
	"tenancy":   8082,
	"secrets":   8083,
	"dokkuexec": 8084,
}

// callGraph is every connection the NetworkPolicies may allow, as
// "<pod> <- <source>" for ingress and "<pod> -> <destination>" for egress.
// Named peers: "clients" is a peer from the values file's mcpedgeFrom or
// identityFrom, or an ingress rule without sources on mcpedge or identity
// while that list is empty ("any" elsewhere); "metrics" is metricsFrom;
// "postgres" and "vault" are networkPolicy.postgres.to and .vault.to;
// "dokku-hosts" is networkPolicy.dokkuHosts; "dns" is the cluster DNS.
// A rendered rule missing from the table fails, and so does a table row no
// rule allows.
var callGraph = []string{
	"mcpedge <- clients tcp/8080",
	"identity <- clients tcp/8081",
	"dokkuexec <- mcpedge tcp/8084",
	"tenancy <- dokkuexec tcp/8082",
	"tenancy <- mcpedge tcp/8082",
	"tenancy <- identity tcp/8082",
	"tenancy <- secrets tcp/8082",
	"secrets <- dokkuexec tcp/8083",

	"mcpedge -> identity tcp/8081",
	"mcpedge -> dokkuexec tcp/8084",
	"mcpedge -> tenancy tcp/8082",
	"identity -> tenancy tcp/8082",
	"dokkuexec -> identity tcp/8081",
	"dokkuexec -> tenancy tcp/8082",
	"dokkuexec -> secrets tcp/8083",
	"dokkuexec -> dokku-hosts tcp/22",
	"dokkuexec -> postgres tcp/5432",
	"identity -> identity tcp/8081",
	"identity -> postgres tcp/5432",
	"tenancy -> identity tcp/8081",
	"tenancy -> postgres tcp/5432",
	"secrets -> identity tcp/8081",
	"secrets -> postgres tcp/5432",
	"secrets -> vault tcp/8200",
	"secrets -> tenancy tcp/8082",
}

// commonFlags and serviceFlags are the flags each binary registers
// (platform/config.RegisterCommon and each <service>/server.RegisterFlags).
// A DOKKUMCP_* variable that names no flag is silently ignored by the
// service, so the test rejects it. Keep these lists in step with the code.
var commonFlags = []string{"listen", "log-level", "otlp-endpoint", "shutdown-timeout"}

var serviceFlags = map[string][]string{
	"identity": {"issuer", "postgres-url", "master-key", "service-clients", "tenant-resources", "token-ttl",
		"key-rotation-interval", "key-publish-delay", "key-reload-interval", "tenancy-url", "tenant-limits-ttl"},
	"tenancy": {"postgres-url", "identity-url"},
	"secrets": {"postgres-url", "identity-url", "vault-addr", "vault-token", "vault-mount", "vault-role",
		"vault-bootstrap", "master-key", "cert-ttl", "vault-auth-method", "vault-kubernetes-mount", "vault-kubernetes-role",
		"vault-kubernetes-token-file", "vault-approle-mount", "vault-approle-role-id", "vault-approle-secret-id",
		"vault-approle-secret-id-file", "vault-timeout", "vault-max-retries", "tenancy-url", "client-id", "client-secret",
		"vault-kv-mount", "managed-key-rotation-interval", "managed-key-check-interval", "managed-key-admin-user"},
	"dokkuexec": {"identity-url", "client-id", "client-secret", "tenancy-url", "secrets-url", "command-timeout",
		"output-limit", "ssh-dial-timeout", "postgres-url", "deployment-output-lines", "reconcile-interval"},
	"mcpedge": {"public-url", "identity-url", "client-id", "client-secret", "dokkuexec-url", "allowed-origins",
		"max-body-bytes", "call-timeout", "sse-query-tokens", "tenancy-url", "metrics-tenant-label"},
}

// requiredEnv are the variables a service cannot start without.
var requiredEnv = map[string][]string{
	"identity":  {"DOKKUMCP_ISSUER", "DOKKUMCP_POSTGRES_URL", "DOKKUMCP_MASTER_KEY", "DOKKUMCP_SERVICE_CLIENTS"},
	"tenancy":   {"DOKKUMCP_POSTGRES_URL", "DOKKUMCP_IDENTITY_URL"},
	"secrets":   {"DOKKUMCP_POSTGRES_URL", "DOKKUMCP_IDENTITY_URL"},
	"dokkuexec": {"DOKKUMCP_IDENTITY_URL", "DOKKUMCP_TENANCY_URL", "DOKKUMCP_SECRETS_URL", "DOKKUMCP_CLIENT_SECRET"},
	"mcpedge":   {"DOKKUMCP_PUBLIC_URL", "DOKKUMCP_IDENTITY_URL", "DOKKUMCP_DOKKUEXEC_URL", "DOKKUMCP_CLIENT_SECRET"},
}

func TestChart(t *testing.T) {
	t.Parallel()
	chrt, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatalf("load chart %s: %v", chartDir, err)
	}
	if chrt.Metadata.APIVersion != chart.APIVersionV2 {
		t.Errorf("Chart.yaml apiVersion = %q, want %q", chrt.Metadata.APIVersion, chart.APIVersionV2)
	}

	for _, file := range valuesFiles {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			values, err := common.ReadValuesFile(filepath.Join(chartDir, file))
			if err != nil {
				t.Fatalf("read %s: %v", file, err)
			}
			objects := renderChart(t, chrt, values)
			// The checks read the values the chart saw: the file over the chart's defaults.
			merged, err := util.CoalesceValues(chrt, values)
			if err != nil {
				t.Fatalf("merge %s with the chart's values.yaml: %v", file, err)
			}
			checkObjects(t, objects, merged)
		})
	}
}

// renderChart renders the chart as `helm install --dry-run` would and
// decodes every manifest strictly.
func renderChart(t *testing.T, chrt *chart.Chart, values common.Values) []runtime.Object {
	t.Helper()
	options := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	renderValues, err := util.ToRenderValues(chrt, values, options, nil)
	if err != nil {
		t.Fatalf("compose render values: %v", err)
	}
	manifests, err := engine.Engine{Strict: true}.Render(chrt, renderValues)
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}

	var objects []runtime.Object
	var rendered strings.Builder
	for _, name := range slices.Sorted(maps.Keys(manifests)) {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		for i, doc := range splitDocuments(manifests[name]) {
			fmt.Fprintf(&rendered, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(doc))
			obj, err := decodeStrict([]byte(doc))
			if err != nil {
				t.Errorf("%s document %d: %v\n%s", name, i, err, doc)
				continue
			}
			objects = append(objects, obj)
		}
	}
	if len(objects) == 0 {
		t.Fatal("chart rendered no objects")
	}
	if *renderDir != "" {
		path := filepath.Join(*renderDir, strings.TrimSuffix(filepath.Base(t.Name()), ".yaml")+".rendered.yaml")
		if err := os.WriteFile(path, []byte(rendered.String()), 0o644); err != nil {
			t.Errorf("write rendered manifests: %v", err)
		}
	}
	return objects
}

// splitDocuments splits a YAML stream on document separators and drops
// documents that hold only comments or whitespace.
func splitDocuments(stream string) []string {
	var docs []string
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		meaningful := false
		for _, line := range strings.Split(doc, "\n") {
			trimmed := strings.TrimSpace(line)
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				meaningful = true
				break
			}
		}
		if meaningful {
			docs = append(docs, doc)
		}
	}
	return docs
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the
// chart writes; decoding into it strictly catches misspelled fields there too.
type serviceMonitor struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   json.RawMessage `json:"metadata"`
	Spec       struct {
		Selector  json.RawMessage `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func (s *serviceMonitor) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }
func (s *serviceMonitor) DeepCopyObject() runtime.Object   { c := *s; return &c }

// decodeStrict decodes one manifest into its typed object, rejecting
// unknown and duplicate fields as the API server's strict field validation does.
func decodeStrict(doc []byte) (runtime.Object, error) {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	gvk := schema.FromAPIVersionAndKind(meta.APIVersion, meta.Kind)

	var obj runtime.Object
	if gvk.Group == "monitoring.coreos.com" && gvk.Kind == "ServiceMonitor" {
		obj = &serviceMonitor{}
	} else {
		obj, err = scheme.Scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("unknown kind %s: %w", gvk, err)
		}
	}
	strictErrs, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", gvk, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("decode %s: %v", gvk, strictErrs)
	}
	return obj, nil
}

type renderedChart struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	accounts    map[string]*corev1.ServiceAccount
	configMaps  map[string]*corev1.ConfigMap
	policies    []*networkingv1.NetworkPolicy
}

func checkObjects(t *testing.T, objects []runtime.Object, values common.Values) {
	t.Helper()
	rc := renderedChart{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		accounts:    map[string]*corev1.ServiceAccount{},
		configMaps:  map[string]*corev1.ConfigMap{},
	}
	for _, obj := range objects {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			rc.deployments[o.Labels["app.kubernetes.io/component"]] = o
		case *corev1.Service:
			rc.services[o.Labels["app.kubernetes.io/component"]] = o
		case *policyv1.PodDisruptionBudget:
			rc.pdbs[o.Labels["app.kubernetes.io/component"]] = o
		case *corev1.ServiceAccount:
			rc.accounts[o.Name] = o
		case *corev1.ConfigMap:
			rc.configMaps[o.Name] = o
		case *networkingv1.NetworkPolicy:
			rc.policies = append(rc.policies, o)
		case *corev1.Secret, *serviceMonitor:
		default:
			t.Errorf("unexpected object %T", obj)
		}
	}

	for _, service := range services {
		t.Run(service, func(t *testing.T) {
			checkService(t, rc, service)
		})
	}
	t.Run("network policies", func(t *testing.T) {
		checkNetworkPolicies(t, rc, values)
	})
}

func checkService(t *testing.T, rc renderedChart, service string) {
	dep, ok := rc.deployments[service]
	if !ok {
		t.Fatalf("no Deployment for %s", service)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 3 {
		t.Errorf("replicas = %v, want at least 3", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template.Spec
	if _, ok := rc.accounts[pod.ServiceAccountName]; !ok {
		t.Errorf("serviceAccountName %q names no rendered ServiceAccount", pod.ServiceAccountName)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	checkContainerSecurity(t, c)

	port := servicePorts[service]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Errorf("container ports = %+v, want one port %d", c.Ports, port)
	}
	for name, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if probe == nil || probe.GRPC == nil || probe.GRPC.Port != port {
			t.Errorf("%s probe = %+v, want a gRPC probe on port %d", name, probe, port)
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
		c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want CPU and memory requests and limits", c.Resources)
	}
	checkEnv(t, rc, service, c)

	svc, ok := rc.services[service]
	if !ok {
		t.Fatalf("no Service for %s", service)
	}
	if !selects(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pod labels %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port {
		t.Errorf("Service ports = %+v, want port %d", svc.Spec.Ports, port)
	}

	pdb, ok := rc.pdbs[service]
	if !ok {
		t.Fatalf("no PodDisruptionBudget for %s", service)
	}
	maxUnavailableOne := pdb.Spec.MaxUnavailable != nil && pdb.Spec.MaxUnavailable.IntValue() == 1
	minAvailableTwo := pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() == 2
	if !maxUnavailableOne && !minAvailableTwo {
		t.Errorf("PodDisruptionBudget = %+v, want maxUnavailable 1 or minAvailable 2", pdb.Spec)
	}
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pod labels", pdb.Spec.Selector)
	}
}

func checkContainerSecurity(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not true")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
	}
}

// checkEnv checks that every DOKKUMCP_* variable names a flag of the service
// and that the required ones are set.
func checkEnv(t *testing.T, rc renderedChart, service string, c corev1.Container) {
	t.Helper()
	known := map[string]bool{}
	for _, flag := range append(slices.Clone(commonFlags), serviceFlags[service]...) {
		known["DOKKUMCP_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))] = true
	}
	set := map[string]bool{}
	for _, env := range c.Env {
		set[env.Name] = true
		if strings.HasPrefix(env.Name, "DOKKUMCP_") && !known[env.Name] {
			t.Errorf("env %s names no flag of %s", env.Name, service)
		}
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("envFrom %+v: only ConfigMaps are expected", from)
			continue
		}
		cm, ok := rc.configMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Errorf("envFrom ConfigMap %q is not rendered", from.ConfigMapRef.Name)
			continue
		}
		for name := range cm.Data {
			set[name] = true
			if !known[name] {
				t.Errorf("ConfigMap %s key %s names no flag of %s", cm.Name, name, service)
			}
		}
	}
	for _, name := range requiredEnv[service] {
		if !set[name] {
			t.Errorf("required env %s is not set", name)
		}
	}
	if !set["DOKKUMCP_LISTEN"] {
		t.Error("DOKKUMCP_LISTEN is not set, so the service would listen on 127.0.0.1 only")
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkNetworkPolicies(t *testing.T, rc renderedChart, values common.Values) {
	if len(rc.policies) == 0 {
		t.Fatal("no NetworkPolicies rendered")
	}
	peers, err := namedPeers(values)
	if err != nil {
		t.Fatal(err)
	}

	// Every pod must be selected by a policy that restricts both directions.
	for _, service := range services {
		podLabels := rc.deployments[service].Spec.Template.Labels
		restricted := map[networkingv1.PolicyType]bool{}
		for _, p := range rc.policies {
			if selectsPod(p.Spec.PodSelector, podLabels) {
				for _, pt := range p.Spec.PolicyTypes {
					restricted[pt] = true
				}
			}
		}
		if !restricted[networkingv1.PolicyTypeIngress] || !restricted[networkingv1.PolicyTypeEgress] {
			t.Errorf("%s pods: policy types %v, want Ingress and Egress restricted", service, restricted)
		}
	}

	got := map[string]bool{}
	for _, p := range rc.policies {
		target := policyTarget(rc, p)
		if target == "" {
			if len(p.Spec.Ingress)+len(p.Spec.Egress) > 0 {
				t.Errorf("policy %s allows traffic but selects no single service", p.Name)
			}
			continue
		}
		for _, rule := range p.Spec.Ingress {
			for _, peer := range peerNames(t, rc, peers, rule.From, unrestrictedName(values, target)) {
				for _, port := range portNames(t, rule.Ports) {
					got[fmt.Sprintf("%s <- %s %s", target, peer, port)] = true
				}
			}
		}
		for _, rule := range p.Spec.Egress {
			for _, peer := range peerNames(t, rc, peers, rule.To, "any") {
				for _, port := range portNames(t, rule.Ports) {
					got[fmt.Sprintf("%s -> %s %s", target, peer, port)] = true
				}
			}
		}
	}

	want := map[string]bool{}
	for _, edge := range callGraph {
		want[edge] = true
	}
	for _, service := range services {
		want[service+" -> dns udp/53"] = true
		want[service+" -> dns tcp/53"] = true
		if peers["metrics"] != nil {
			want[fmt.Sprintf("%s <- metrics tcp/%d", service, servicePorts[service])] = true
		}
	}
	if hasEntries(values, "networkPolicy", "identityFrom") {
		// A restricted identityFrom still has to let the platform's own pods in.
		for _, caller := range services {
			want[fmt.Sprintf("identity <- %s tcp/8081", caller)] = true
		}
	}
	if !hasString(values, "vault", "address") {
		delete(want, "secrets -> vault tcp/8200")
	}
	if enabled, _ := lookup(values, "secrets", "managedKeys", "enabled").(bool); enabled {
		// The managed-key rotation logs in to the hosts (docs/managed-keys.md).
		want["secrets -> dokku-hosts tcp/22"] = true
	}

	for _, edge := range slices.Sorted(maps.Keys(got)) {
		if !want[edge] {
			t.Errorf("NetworkPolicies allow %q, which is not in the call graph", edge)
		}
	}
	for _, edge := range slices.Sorted(maps.Keys(want)) {
		if !got[edge] {
			t.Errorf("NetworkPolicies do not allow %q from the call graph", edge)
		}
	}
}

// policyTarget returns the service whose pods a policy selects, or "" for
// a policy that selects every pod of the release (the default deny).
func policyTarget(rc renderedChart, p *networkingv1.NetworkPolicy) string {
	var selected []string
	for _, service := range services {
		if selectsPod(p.Spec.PodSelector, rc.deployments[service].Spec.Template.Labels) {
			selected = append(selected, service)
		}
	}
	if len(selected) == 1 {
		return selected[0]
	}
	return ""
}

func selectsPod(sel metav1.LabelSelector, labels map[string]string) bool {
	if len(sel.MatchExpressions) > 0 {
		return false // the chart uses matchLabels only
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// namedPeers maps the peer names of the call graph to the peers the values
// file configures, canonicalised as JSON of networkingv1.NetworkPolicyPeer.
func namedPeers(values common.Values) (map[string][]string, error) {
	named := map[string][]string{}
	lists := map[string][]string{
		"postgres": {"networkPolicy", "postgres", "to"},
		"vault":    {"networkPolicy", "vault", "to"},
		"clients":  {"networkPolicy", "mcpedgeFrom"},
		"metrics":  {"networkPolicy", "metricsFrom"},
	}
	for name, path := range lists {
		for _, raw := range lookupList(values, path...) {
			key, err := canonicalPeer(raw)
			if err != nil {
				return nil, fmt.Errorf("values %s: %w", strings.Join(path, "."), err)
			}
			named[name] = append(named[name], key)
		}
	}
	for _, raw := range lookupList(values, "networkPolicy", "identityFrom") {
		key, err := canonicalPeer(raw)
		if err != nil {
			return nil, err
		}
		named["clients"] = append(named["clients"], key)
	}
	for _, raw := range lookupList(values, "networkPolicy", "dokkuHosts", "cidrs") {
		key, err := canonicalPeer(map[string]any{"ipBlock": raw})
		if err != nil {
			return nil, err
		}
		named["dokku-hosts"] = append(named["dokku-hosts"], key)
	}
	return named, nil
}

func canonicalPeer(raw any) (string, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return "", err
	}
	var peer networkingv1.NetworkPolicyPeer
	if strictErrs, err := kjson.UnmarshalStrict(data, &peer, kjson.DisallowUnknownFields); err != nil || len(strictErrs) > 0 {
		return "", fmt.Errorf("invalid NetworkPolicyPeer %s: %v %v", data, err, strictErrs)
	}
	out, err := json.Marshal(peer)
	return string(out), err
}

// peerNames names each peer of a rule: a service of this release, "dns",
// a named peer from the values file, or emptyName for a rule without peers.
func peerNames(t *testing.T, rc renderedChart, named map[string][]string, peers []networkingv1.NetworkPolicyPeer, emptyName string) []string {
	t.Helper()
	if len(peers) == 0 {
		return []string{emptyName}
	}
	var names []string
	for _, peer := range peers {
		names = append(names, peerName(t, rc, named, peer))
	}
	return names
}

// unrestrictedName names an ingress rule without peers: "clients" on the
// client-facing services when the values file leaves their sources open,
// "any" everywhere else, which the call graph never allows.
func unrestrictedName(values common.Values, target string) string {
	switch target {
	case "mcpedge":
		if !hasEntries(values, "networkPolicy", "mcpedgeFrom") {
			return "clients"
		}
	case "identity":
		if !hasEntries(values, "networkPolicy", "identityFrom") {
			return "clients"
		}
	}
	return "any"
}

func peerName(t *testing.T, rc renderedChart, named map[string][]string, peer networkingv1.NetworkPolicyPeer) string {
	t.Helper()
	if peer.NamespaceSelector == nil && peer.IPBlock == nil && peer.PodSelector != nil {
		var matched []string
		for _, service := range services {
			if selectsPod(*peer.PodSelector, rc.deployments[service].Spec.Template.Labels) {
				matched = append(matched, service)
			}
		}
		if len(matched) == 1 {
			return matched[0]
		}
		t.Errorf("pod peer %v selects services %v, want exactly one", peer.PodSelector.MatchLabels, matched)
		return "pods:" + strings.Join(matched, ",")
	}
	if peer.NamespaceSelector != nil && peer.PodSelector != nil &&
		peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "kube-system" &&
		peer.PodSelector.MatchLabels["k8s-app"] == "kube-dns" {
		return "dns"
	}
	data, err := json.Marshal(peer)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(named)) {
		if slices.Contains(named[name], string(data)) {
			return name
		}
	}
	return "unknown peer " + string(data)
}

func portNames(t *testing.T, ports []networkingv1.NetworkPolicyPort) []string {
	t.Helper()
	if len(ports) == 0 {
		return []string{"all ports"}
	}
	var names []string
	for _, p := range ports {
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		if p.Port == nil || p.EndPort != nil {
			t.Errorf("port %+v: want one numbered port per rule", p)
			continue
		}
		names = append(names, fmt.Sprintf("%s/%s", strings.ToLower(string(protocol)), p.Port.String()))
	}
	return names
}

func lookup(values common.Values, path ...string) any {
	var cur any = map[string]any(values)
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}

func lookupList(values common.Values, path ...string) []any {
	list, _ := lookup(values, path...).([]any)
	return list
}

func hasEntries(values common.Values, path ...string) bool {
	return len(lookupList(values, path...)) > 0
}

func hasString(values common.Values, path ...string) bool {
	s, _ := lookup(values, path...).(string)
	return s != ""
}

// TestSplitDocuments guards the splitter the other checks rely on.
func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	stream := "# Source: a.yaml\n---\nkind: A\n---\n# only a comment\n---\nkind: B\nx: |\n  ---not a separator\n"
	got := splitDocuments(stream)
	if len(got) != 2 {
		t.Fatalf("splitDocuments returned %d documents, want 2: %q", len(got), got)
	}
	if !bytes.Contains([]byte(got[1]), []byte("---not a separator")) {
		t.Errorf("second document %q lost its block scalar", got[1])
	}
}

// TestDecodeStrictRejectsTypo shows that a misspelled field fails decoding.
func TestDecodeStrictRejectsTypo(t *testing.T) {
	t.Parallel()
	doc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n      targetPortt: 80\n"
	if _, err := decodeStrict([]byte(doc)); err == nil || !strings.Contains(err.Error(), "targetPortt") {
		t.Errorf("decodeStrict(typo) error = %v, want one naming targetPortt", err)
	}
	if _, err := decodeStrict([]byte(strings.Replace(doc, "targetPortt", "targetPort", 1))); err != nil {
		t.Errorf("decodeStrict(valid) error = %v", err)
	}
}
