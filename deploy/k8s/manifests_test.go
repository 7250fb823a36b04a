package k8s

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeAll parses every document of a manifest, anchors resolved, into
// generic maps.
func decodeAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d == nil {
			continue
		}
		for _, k := range []string{"apiVersion", "kind", "metadata"} {
			if d[k] == nil {
				t.Fatalf("%s: a document without %s", path, k)
			}
		}
		docs = append(docs, d)
	}
}

// get walks a path of map keys and list indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

// TestManifestsParse: every manifest in this directory is valid YAML
// whose documents name an API version, a kind and metadata.
func TestManifestsParse(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests")
	}
	for _, f := range files {
		if len(decodeAll(t, f)) == 0 {
			t.Errorf("%s: no documents", f)
		}
	}
}

// TestReplicaStatefulSet checks the promises the README makes: three
// replicas behind a headless Service, a volume per replica, an init
// container that formats only when no data file exists, and addresses
// built from the pods' DNS names in replica order.
func TestReplicaStatefulSet(t *testing.T) {
	docs := decodeAll(t, "replica-statefulset.yaml")
	var svc, sts map[string]any
	for _, d := range docs {
		switch d["kind"] {
		case "Service":
			svc = d
		case "StatefulSet":
			sts = d
		}
	}
	if svc == nil || sts == nil {
		t.Fatalf("want a Service and a StatefulSet, got %d documents", len(docs))
	}
	if get(t, svc, "spec", "clusterIP") != "None" || get(t, svc, "spec", "publishNotReadyAddresses") != true {
		t.Error("the Service must be headless and publish pods before they are ready")
	}
	name := get(t, svc, "metadata", "name")
	if get(t, sts, "spec", "serviceName") != name {
		t.Errorf("serviceName %v, the Service is %v", get(t, sts, "spec", "serviceName"), name)
	}
	if get(t, sts, "spec", "replicas") != 3 {
		t.Errorf("replicas %v, want 3", get(t, sts, "spec", "replicas"))
	}
	if get(t, sts, "spec", "podManagementPolicy") != "Parallel" {
		t.Error("pods must start in parallel: none is ready without a quorum")
	}
	labels := get(t, sts, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range get(t, sts, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v || get(t, svc, "spec", "selector").(map[string]any)[k] != v {
			t.Errorf("selector %s=%v does not match the pods' labels", k, v)
		}
	}
	claim := get(t, sts, "spec", "volumeClaimTemplates", 0, "metadata", "name")
	pod := get(t, sts, "spec", "template", "spec")
	env := map[string]string{}
	for _, e := range get(t, pod, "containers", 0, "env").([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"].(string); ok {
			env[m["name"].(string)] = v
		}
	}
	if env["REPLICA_COUNT"] != "3" {
		t.Errorf("REPLICA_COUNT %q, want 3 (the StatefulSet's replicas)", env["REPLICA_COUNT"])
	}
	for _, c := range []string{"initContainers", "containers"} {
		mounts := get(t, pod, c, 0, "volumeMounts").([]any)
		if get(t, mounts, 0, "name") != claim || get(t, mounts, 0, "mountPath") != "/data" {
			t.Errorf("%s: the data volume %v is not mounted at /data", c, claim)
		}
	}

	format := strings.Join(anyStrings(get(t, pod, "initContainers", 0, "args")), "\n")
	if !regexp.MustCompile(`if \[ -e "\$file" \]; then[\s\S]*else[\s\S]*replica format `).MatchString(format) {
		t.Errorf("the init container must format only when the data file is missing:\n%s", format)
	}
	start := strings.Join(anyStrings(get(t, pod, "containers", 0, "args")), "\n")
	if !strings.Contains(start, "exec replica start --addresses") {
		t.Errorf("the container must exec replica start:\n%s", start)
	}
	// The script's addresses, as a shell would build them for replica-1.
	addrs := shellAddresses(t, start, env["REPLICA_COUNT"], "default", env["CLUSTER_DOMAIN"])
	want := "replica-0.replica.default.svc.cluster.local:3001,replica-1.replica.default.svc.cluster.local:3001,replica-2.replica.default.svc.cluster.local:3001"
	if addrs != want {
		t.Errorf("addresses %q, want %q", addrs, want)
	}
	// Both containers name the same data file.
	file := regexp.MustCompile(`/data/\$\{CLUSTER\}_\$\{HOSTNAME##\*-\}\.viewstamp`)
	if !file.MatchString(format) || !file.MatchString(start) {
		t.Error("the init container and the replica must name the same data file")
	}
}

// shellAddresses runs the container's address loop with sh.
func shellAddresses(t *testing.T, script, count, ns, domain string) string {
	t.Helper()
	loop := regexp.MustCompile(`(?s)svc=.*?done`).FindString(script)
	if loop == "" {
		t.Fatalf("no address loop in:\n%s", script)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the address loop")
	}
	cmd := exec.Command("sh", "-euc", loop+`; printf %s "$addresses"`)
	cmd.Env = []string{"REPLICA_COUNT=" + count, "NAMESPACE=" + ns, "CLUSTER_DOMAIN=" + domain, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("address loop: %v: %s", err, out)
	}
	return string(out)
}

// TestDockerfile: the image is built in stages, the binary static (no
// cgo), and it is the image's entry point.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	froms := regexp.MustCompile(`(?m)^FROM `).FindAllString(s, -1)
	for _, want := range []string{"CGO_ENABLED=0 go build", "./cmd/replica", "COPY --from=build /out/replica /usr/local/bin/replica", `ENTRYPOINT ["/usr/local/bin/replica"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if len(froms) < 2 {
		t.Errorf("Dockerfile has %d stages, want a build stage and an image stage", len(froms))
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
