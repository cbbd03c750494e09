package deploy

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Paths, relative to this package's directory.
const (
	composeFile     = "../docker-compose.yml"
	baseDir         = "kubernetes/base"
	dashboardFile   = "monitoring/grafana-dashboard.json"
	alertsFile      = "monitoring/alerts.yaml"
	exampleActFile  = "../schemas/examples/activations.yaml"
	configSource    = "../internal/config/config.go"
	metricsSource   = "../internal/metrics/metrics.go"
	producerMetrics = "../internal/metrics/producer.go"
	producerCronJob = "kubernetes/base/producer-cronjob.yaml"
	commandsSource  = "../cmd/invitepipe/main.go"
	produceSource   = "../cmd/invitepipe/produce.go"
	laneSource      = "../internal/lane/lane.go"
	dlqSource       = "../internal/dlq/dlq.go"
	dlqDoc          = "../schemas/dlq.v1.md"
	kedaDir         = "kubernetes/keda"
	consumerSource  = "../internal/consumer/consumer.go"
	sandboxDefaults = "../internal/sandbox/config.go"
	sandboxCommand  = "../cmd/invitepipe/sandbox.go"
)

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "container", "endpoint"}

// ---- reading files ----

// yamlDocs returns every document of a YAML file, decoded into maps and slices.
func yamlDocs(t *testing.T, path string) []any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []any
	dec := yaml.NewDecoder(f)
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// yamlDoc returns the only document of a YAML file.
func yamlDoc(t *testing.T, path string) any {
	t.Helper()
	docs := yamlDocs(t, path)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", path, len(docs))
	}
	return docs[0]
}

// dig follows keys (string) and indices (int) into a decoded document; nil when absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// str is dig for a scalar, as text ("" when absent or not a scalar).
func str(v any, path ...any) string {
	switch x := dig(v, path...).(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func list(v any, path ...any) []any {
	s, _ := dig(v, path...).([]any)
	return s
}

func parseGo(t *testing.T, path string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return f
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// ---- what the Go sources define ----

// knownVars returns the INVITEPIPE_* variables the binary reads, with their defaults:
// the envconfig tags of internal/config and the sandbox's flags' variables.
func knownVars(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	ast.Inspect(parseGo(t, configSource), func(n ast.Node) bool {
		if f, ok := n.(*ast.Field); ok && f.Tag != nil {
			raw, _ := stringLit(f.Tag)
			tag := reflect.StructTag(raw)
			if name := tag.Get("envconfig"); name != "" {
				vars[name] = tag.Get("default")
			}
		}
		return true
	})
	if len(vars) == 0 {
		t.Fatalf("no envconfig tags found in %s", configSource)
	}
	// The sandbox declares each flag's variable as def(flag, arg, SUFFIX, usage).
	ast.Inspect(parseGo(t, sandboxCommand), func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "def" && len(call.Args) == 4 {
				if suffix, ok := stringLit(call.Args[2]); ok {
					vars["INVITEPIPE_SANDBOX_"+suffix] = ""
				}
			}
		}
		return true
	})
	return vars
}

// metric is one metric of internal/metrics.
type metric struct {
	histogram bool
	labels    []string
}

// series returns the names the metric is exposed under.
func (m metric) series(name string) []string {
	if m.histogram {
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	}
	return []string{name}
}

// definedMetrics parses the prometheus.New* calls of internal/metrics (the consumer's and
// the producer's): each metric's name (Name: in its options) and labels (the []string
// argument).
func definedMetrics(t *testing.T) map[string]metric {
	t.Helper()
	metrics := map[string]metric{}
	for _, path := range []string{metricsSource, producerMetrics} {
		addMetrics(t, path, metrics)
	}
	return metrics
}

// addMetrics adds the metrics that the Go file at path defines to metrics.
func addMetrics(t *testing.T, path string, metrics map[string]metric) {
	t.Helper()
	before := len(metrics)
	ast.Inspect(parseGo(t, path), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasPrefix(sel.Sel.Name, "New") || len(call.Args) == 0 {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
			return true
		}
		opts, ok := call.Args[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		var name string
		for _, el := range opts.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
					name, _ = stringLit(kv.Value)
				}
			}
		}
		if name == "" {
			return true
		}
		m := metric{histogram: strings.Contains(sel.Sel.Name, "Histogram")}
		if len(call.Args) > 1 {
			if labels, ok := call.Args[1].(*ast.CompositeLit); ok {
				for _, l := range labels.Elts {
					if s, ok := stringLit(l); ok {
						m.labels = append(m.labels, s)
					}
				}
			}
		}
		metrics[name] = m
		return true
	})
	if len(metrics) == before {
		t.Fatalf("no new metrics found in %s", path)
	}
}

// stringConsts returns the string constants of a Go file whose names start with prefix.
func stringConsts(t *testing.T, path, prefix string) map[string]string {
	t.Helper()
	consts := map[string]string{}
	for _, decl := range parseGo(t, path).Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) && strings.HasPrefix(name.Name, prefix) {
					if s, ok := stringLit(vs.Values[i]); ok {
						consts[name.Name] = s
					}
				}
			}
		}
	}
	return consts
}

// typedConsts returns the values of the string constants of a Go file declared with
// typeName, sorted (e.g. lane.Reason's Paused Reason = "paused").
func typedConsts(t *testing.T, path, typeName string) []string {
	t.Helper()
	var values []string
	for _, decl := range parseGo(t, path).Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typeName {
				continue
			}
			for _, v := range vs.Values {
				if s, ok := stringLit(v); ok {
					values = append(values, s)
				}
			}
		}
	}
	slices.Sort(values)
	return values
}

// consumerDefault returns the default of a consumer.Config duration, from its
// setDefault(&c.Field, N*time.Unit) call.
func consumerDefault(t *testing.T, field string) time.Duration {
	t.Helper()
	units := map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute}
	var d time.Duration
	ast.Inspect(parseGo(t, consumerSource), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "setDefault" {
			return true
		}
		ref, ok := call.Args[0].(*ast.UnaryExpr)
		if !ok {
			return true
		}
		if sel, ok := ref.X.(*ast.SelectorExpr); !ok || sel.Sel.Name != field {
			return true
		}
		if bin, ok := call.Args[1].(*ast.BinaryExpr); ok && bin.Op == token.MUL {
			lit, _ := bin.X.(*ast.BasicLit)
			unit, _ := bin.Y.(*ast.SelectorExpr)
			if lit != nil && unit != nil {
				n, err := strconv.Atoi(lit.Value)
				if err == nil && units[unit.Sel.Name] > 0 {
					d = time.Duration(n) * units[unit.Sel.Name]
				}
			}
		}
		return false
	})
	if d == 0 {
		t.Fatalf("cannot read the default of consumer.Config.%s (setDefault(&c.%s, N*time.Unit)) in %s", field, field, consumerSource)
	}
	return d
}

// shutdownBudget is how long the consumer may take to stop after SIGTERM: it drains for up
// to its drain timeout and commits while still a member of the group, which its
// configuration keeps within the session timeout (consumer.Config.Validate). configured
// holds the variables a deployment sets; unset ones take the binary's defaults.
func shutdownBudget(t *testing.T, configured map[string]string) time.Duration {
	t.Helper()
	drain := durationSetting(t, configured, "INVITEPIPE_DRAIN_TIMEOUT", "DrainTimeout")
	session := durationSetting(t, configured, "INVITEPIPE_KAFKA_SESSION_TIMEOUT", "SessionTimeout")
	if drain >= session {
		t.Fatalf("drain timeout %s is not shorter than the session timeout %s", drain, session)
	}
	return session
}

// durationSetting returns a consumer duration: the value configured for its variable,
// else the variable's default in internal/config, else (while the variable does not
// exist) consumer.Config's default for field.
func durationSetting(t *testing.T, configured map[string]string, name, field string) time.Duration {
	t.Helper()
	v, ok := configured[name]
	if !ok {
		v, ok = knownVars(t)[name]
	}
	if !ok {
		return consumerDefault(t, field)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s %q: %v", name, v, err)
	}
	return d
}

// ---- the deployment files ----

// deployFiles lists the files under deploy/ with one of exts, plus docker-compose.yml for
// YAML.
func deployFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && slices.Contains(exts, filepath.Ext(path)) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(exts, ".yml") {
		files = append(files, composeFile)
	}
	return files
}

// kustomization returns the base kustomization.
func kustomization(t *testing.T) any { return yamlDoc(t, filepath.Join(baseDir, "kustomization.yaml")) }

// configLiterals returns the literals of the base's generated ConfigMap invitepipe-config.
func configLiterals(t *testing.T) map[string]string {
	t.Helper()
	for _, gen := range list(kustomization(t), "configMapGenerator") {
		if str(gen, "name") != "invitepipe-config" {
			continue
		}
		lits := map[string]string{}
		for _, l := range list(gen, "literals") {
			k, v, _ := strings.Cut(l.(string), "=")
			lits[k] = v
		}
		return lits
	}
	t.Fatal("base kustomization has no configMapGenerator invitepipe-config")
	return nil
}

func deployment(t *testing.T) any { return yamlDoc(t, filepath.Join(baseDir, "deployment.yaml")) }

// consumerContainer returns the Deployment's container named consumer.
func consumerContainer(t *testing.T, dep any) any {
	t.Helper()
	for _, c := range list(dep, "spec", "template", "spec", "containers") {
		if str(c, "name") == "consumer" {
			return c
		}
	}
	t.Fatal("the Deployment has no container named consumer")
	return nil
}

// containerEnv maps each env entry of a container by name.
func containerEnv(c any) map[string]any {
	env := map[string]any{}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = e
	}
	return env
}

// credentialVars returns the variables an activation file's destinations name.
func credentialVars(t *testing.T, path string) []string {
	t.Helper()
	var vars []string
	for _, d := range list(yamlDoc(t, path), "destinations") {
		for _, k := range []string{"api_key_env", "api_secret_env", "business_user_id_env"} {
			if v := str(d, "credentials", k); v != "" {
				vars = append(vars, v)
			}
		}
	}
	if len(vars) == 0 {
		t.Fatalf("%s names no credential variables", path)
	}
	return vars
}

// adminPort is the port of INVITEPIPE_ADMIN_ADDR as configured, else its default.
func adminPort(t *testing.T, configured map[string]string) string {
	t.Helper()
	addr, ok := configured["INVITEPIPE_ADMIN_ADDR"]
	if !ok {
		addr = knownVars(t)["INVITEPIPE_ADMIN_ADDR"]
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("INVITEPIPE_ADMIN_ADDR %q: %v", addr, err)
	}
	return port
}

// ---- tests ----

func TestFilesParse(t *testing.T) {
	for _, path := range deployFiles(t, ".yaml", ".yml") {
		t.Run(path, func(t *testing.T) {
			docs := yamlDocs(t, path)
			if len(docs) == 0 {
				t.Fatal("no YAML document")
			}
			for i, doc := range docs {
				kind := str(doc, "kind")
				if str(doc, "apiVersion") == "" || kind == "Kustomization" || kind == "Component" {
					continue
				}
				if kind == "" || str(doc, "metadata", "name") == "" {
					t.Errorf("document %d: a manifest needs kind and metadata.name", i)
				}
				if ns := str(doc, "metadata", "namespace"); ns != "" {
					t.Errorf("document %d (%s): namespace %q: manifests are namespace-agnostic, set it in an overlay", i, kind, ns)
				}
			}
		})
	}
	for _, path := range deployFiles(t, ".json") {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatal("not valid JSON")
			}
		})
	}
}

var envVarName = regexp.MustCompile(`INVITEPIPE_[A-Z0-9_]*[A-Z0-9]`)

func TestOnlyKnownVariables(t *testing.T) {
	known := knownVars(t)
	files := append(deployFiles(t, ".yaml", ".yml", ".json", ".md"), "Dockerfile", dlqDoc)
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range envVarName.FindAllString(string(b), -1) {
				if _, ok := known[name]; !ok {
					t.Errorf("%s is not a variable invitepipe reads (see %s and %s)", name, configSource, sandboxCommand)
				}
			}
		})
	}
}

func TestConsumerDeployment(t *testing.T) {
	dep := deployment(t)
	pod := dig(dep, "spec", "template", "spec")
	c := consumerContainer(t, dep)
	env := containerEnv(c)
	literals := configLiterals(t)
	port := adminPort(t, literals)

	t.Run("runs consume", func(t *testing.T) {
		if args := list(c, "args"); len(args) == 0 || args[0] != "consume" {
			t.Errorf("args = %v, want [consume]", args)
		}
	})
	t.Run("admin port", func(t *testing.T) {
		var found bool
		for _, p := range list(c, "ports") {
			if str(p, "name") == "admin" {
				found = true
				if got := str(p, "containerPort"); got != port {
					t.Errorf("port admin = %s, INVITEPIPE_ADMIN_ADDR listens on %s", got, port)
				}
			}
		}
		if !found {
			t.Error("no container port named admin")
		}
		if got := str(dep, "spec", "template", "metadata", "annotations", "prometheus.io/port"); got != port {
			t.Errorf("prometheus.io/port = %q, want %s", got, port)
		}
		svc := yamlDoc(t, filepath.Join(baseDir, "service.yaml"))
		if got := str(svc, "spec", "ports", 0, "targetPort"); got != "admin" && got != port {
			t.Errorf("Service targetPort = %q, want admin", got)
		}
	})
	for _, probe := range []struct{ field, path string }{
		{"livenessProbe", "/livez"},
		{"readinessProbe", "/readyz"},
	} {
		t.Run(probe.field, func(t *testing.T) {
			if got := str(c, probe.field, "httpGet", "path"); got != probe.path {
				t.Errorf("path = %q, want %s", got, probe.path)
			}
			if got := str(c, probe.field, "httpGet", "port"); got != "admin" && got != port {
				t.Errorf("port = %q, want admin (%s)", got, port)
			}
		})
	}
	t.Run("grace period outlasts the shutdown", func(t *testing.T) {
		grace, _ := dig(pod, "terminationGracePeriodSeconds").(int)
		if budget := shutdownBudget(t, literals); time.Duration(grace)*time.Second <= budget {
			t.Errorf("terminationGracePeriodSeconds = %d, want more than the consumer's shutdown budget %s", grace, budget)
		}
	})
	t.Run("security context", func(t *testing.T) {
		want := []struct {
			path []any
			val  string
		}{
			{[]any{"securityContext", "runAsNonRoot"}, "true"},
			{[]any{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
			{[]any{"automountServiceAccountToken"}, "false"},
		}
		for _, w := range want {
			if got := str(pod, w.path...); got != w.val {
				t.Errorf("pod %v = %q, want %s", w.path, got, w.val)
			}
		}
		for _, w := range []struct{ field, val string }{
			{"readOnlyRootFilesystem", "true"},
			{"allowPrivilegeEscalation", "false"},
			{"runAsNonRoot", "true"},
		} {
			if got := str(c, "securityContext", w.field); got != w.val {
				t.Errorf("container securityContext.%s = %q, want %s", w.field, got, w.val)
			}
		}
		if drop := list(c, "securityContext", "capabilities", "drop"); !slices.Contains(drop, any("ALL")) {
			t.Errorf("capabilities.drop = %v, want ALL", drop)
		}
		if str(c, "resources", "requests", "memory") == "" || str(c, "resources", "limits", "memory") == "" {
			t.Error("memory request and limit must be set")
		}
		sa := yamlDoc(t, filepath.Join(baseDir, "serviceaccount.yaml"))
		if str(sa, "automountServiceAccountToken") != "false" || str(sa, "metadata", "name") != str(pod, "serviceAccountName") {
			t.Errorf("the pod's ServiceAccount %q must be serviceaccount.yaml's, without a token", str(pod, "serviceAccountName"))
		}
	})
	t.Run("image user is the pod's", func(t *testing.T) {
		b, err := os.ReadFile("Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		var user string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "USER" {
				user, _, _ = strings.Cut(f[1], ":")
			}
		}
		if uid, err := strconv.Atoi(user); err != nil || uid == 0 {
			t.Errorf("Dockerfile USER %q: want a numeric non-root uid, which runAsNonRoot can verify", user)
		}
		if got := str(pod, "securityContext", "runAsUser"); got != user {
			t.Errorf("runAsUser = %q, the image runs as %q", got, user)
		}
	})
	t.Run("activation file mounted where INVITEPIPE_ACTIVATIONS points", func(t *testing.T) {
		path := str(env["INVITEPIPE_ACTIVATIONS"], "value")
		var mounted string
		for _, m := range list(c, "volumeMounts") {
			for _, v := range list(pod, "volumes") {
				if str(v, "name") == str(m, "name") && str(v, "configMap", "name") == "invitepipe-activations" {
					mounted = str(m, "mountPath") + "/" + str(v, "configMap", "items", 0, "path")
				}
			}
		}
		if path == "" || path != mounted {
			t.Errorf("INVITEPIPE_ACTIVATIONS = %q, the ConfigMap invitepipe-activations is mounted at %q", path, mounted)
		}
	})
	t.Run("secrets come from the Secret", func(t *testing.T) {
		for name, v := range literals {
			if isSecretName(name) {
				t.Errorf("ConfigMap holds %s: secrets belong in the Secret", name)
			}
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					t.Errorf("ConfigMap %s carries a password: use INVITEPIPE_REDIS_PASSWORD", name)
				}
			}
		}
		required := append(credentialVars(t, filepath.Join(baseDir, "activations.yaml")), "INVITEPIPE_REDIS_PASSWORD")
		for _, name := range required {
			if env[name] == nil {
				t.Errorf("%s is not set in the container", name)
			}
		}
		example := dig(yamlDoc(t, "kubernetes/secret.example.yaml"), "stringData")
		for name, e := range env {
			ref := dig(e, "valueFrom", "secretKeyRef")
			if ref == nil {
				if isSecretName(name) || slices.Contains(required, name) {
					t.Errorf("%s must come from a secretKeyRef", name)
				}
				continue
			}
			if str(ref, "name") != "invitepipe-secrets" || str(ref, "key") != name {
				t.Errorf("%s: secretKeyRef %s/%s, want invitepipe-secrets/%s", name, str(ref, "name"), str(ref, "key"), name)
			}
			if str(ref, "optional") != "true" && dig(example, name) == nil {
				t.Errorf("%s is required but missing from kubernetes/secret.example.yaml", name)
			}
		}
	})
}

// isSecretName reports whether a variable holds a secret by its name.
func isSecretName(name string) bool {
	return strings.HasSuffix(name, "_PASSWORD") || strings.HasSuffix(name, "_SECRET") || strings.HasSuffix(name, "_API_KEY")
}

// kedaTriggers returns the triggers of every ScaledObject under kubernetes/keda.
func kedaTriggers(t *testing.T) []any {
	t.Helper()
	var triggers []any
	for _, path := range deployFiles(t, ".yaml") {
		if !strings.HasPrefix(path, kedaDir+string(filepath.Separator)) {
			continue
		}
		for _, doc := range yamlDocs(t, path) {
			if str(doc, "kind") == "ScaledObject" {
				triggers = append(triggers, list(doc, "spec", "triggers")...)
			}
		}
	}
	if len(triggers) == 0 {
		t.Fatalf("no ScaledObject trigger under %s", kedaDir)
	}
	return triggers
}

// scrapeJob is the job label of the consumer's series: the Service's name, which the
// ServiceMonitor's targets carry.
func scrapeJob(t *testing.T) string {
	t.Helper()
	return str(yamlDoc(t, filepath.Join(baseDir, "service.yaml")), "metadata", "name")
}

// The autoscaler scales on the rows replicas can act on, never on the group's Kafka lag:
// rows deferred for a paused or throttled destination are lag no replica can work off.
func TestKEDAScalesOnActionableLag(t *testing.T) {
	so := yamlDoc(t, filepath.Join(kedaDir, "scaledobject.yaml"))
	triggers := kedaTriggers(t)
	t.Run("only the actionable-lag trigger", func(t *testing.T) {
		// The HPA follows the largest of its triggers: a Kafka lag trigger beside the
		// Prometheus one would scale out on waiting rows again.
		if len(triggers) != 1 {
			t.Errorf("%d triggers, want exactly one (prometheus on invitepipe_actionable_lag)", len(triggers))
		}
		for _, tr := range triggers {
			if typ := str(tr, "type"); typ != "prometheus" {
				t.Errorf("trigger type %q, want prometheus", typ)
			}
		}
	})
	trigger := triggers[0]
	query := strings.TrimSpace(str(trigger, "metadata", "query"))
	t.Run("query sums invitepipe_actionable_lag of the consumer's job", func(t *testing.T) {
		if got := metricToken.FindAllString(query, -1); !slices.Equal(got, []string{"invitepipe_actionable_lag"}) {
			t.Errorf("query %q reads %v, want invitepipe_actionable_lag alone", query, got)
		}
		// One number for the whole group: a sum over every replica, not per label set.
		if !strings.HasPrefix(query, "sum(") || !strings.HasSuffix(query, ")") || grouping.MatchString(query) {
			t.Errorf("query %q: want sum(invitepipe_actionable_lag{...}), one element", query)
		}
		job := `job="` + scrapeJob(t) + `"`
		sels := selector.FindAllStringSubmatch(query, -1)
		if len(sels) != 1 || !strings.Contains(sels[0][2], job) {
			t.Errorf("query %q must select %s, the job the ServiceMonitor gives", query, job)
		}
	})
	t.Run("threshold per replica", func(t *testing.T) {
		if mt := str(trigger, "metricType"); mt != "" && mt != "AverageValue" {
			t.Errorf("metricType %q: want AverageValue, so that threshold is rows per replica", mt)
		}
		if v, err := strconv.ParseFloat(str(trigger, "metadata", "threshold"), 64); err != nil || v <= 0 {
			t.Errorf("threshold %q: want a positive number of rows per replica", str(trigger, "metadata", "threshold"))
		}
		if a := str(trigger, "metadata", "activationThreshold"); a != "" {
			if v, err := strconv.ParseFloat(a, 64); err != nil || v < 0 {
				t.Errorf("activationThreshold %q: want a number", a)
			}
		}
	})
	t.Run("serverAddress", func(t *testing.T) {
		u, err := url.Parse(str(trigger, "metadata", "serverAddress"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Errorf("serverAddress %q: want an http(s) URL of Prometheus without credentials", str(trigger, "metadata", "serverAddress"))
		}
	})
	t.Run("a missing metric is no reason to scale in", func(t *testing.T) {
		if got := str(trigger, "metadata", "ignoreNullValues"); got != "false" {
			t.Errorf("ignoreNullValues = %q, want \"false\": an empty answer must be an error, not zero work", got)
		}
	})
	t.Run("scale target", func(t *testing.T) {
		if got, want := str(so, "spec", "scaleTargetRef", "name"), str(deployment(t), "metadata", "name"); got != want {
			t.Errorf("scaleTargetRef %q, want %q", got, want)
		}
	})
	t.Run("replica bounds", func(t *testing.T) {
		minR, _ := dig(so, "spec", "minReplicaCount").(int)
		maxR, _ := dig(so, "spec", "maxReplicaCount").(int)
		if minR < 1 || maxR < minR {
			t.Errorf("min %d, max %d: want 1 <= min <= max (never zero: no replica, no actionable lag)", minR, maxR)
		}
	})
	t.Run("the autoscaler owns replicas", func(t *testing.T) {
		var removed bool
		for _, p := range list(yamlDoc(t, filepath.Join(kedaDir, "kustomization.yaml")), "patches") {
			patch := str(p, "patch")
			removed = removed || strings.Contains(patch, "op: remove") && strings.Contains(patch, "path: /spec/replicas")
		}
		if !removed {
			t.Error("the KEDA overlay must remove the Deployment's spec.replicas")
		}
	})
}

// ---- PromQL ----

var (
	metricToken = regexp.MustCompile(`\binvitepipe_[a-z0-9_]+`)
	selector    = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}`)
	matcher     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	grouping    = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// checkPromQL reports every name, label or label value in expr that the code does not
// define. values holds the closed sets of label values, by label (outcome, reason) or,
// first, by metric and label ("invitepipe_producer_rows_total/outcome"): an = or =~
// matcher on such a label must name only values of its set.
func checkPromQL(expr string, metrics map[string]metric, values map[string][]string) []string {
	var problems []string
	series := map[string]metric{}
	allLabels := slices.Clone(targetLabels)
	for name, m := range metrics {
		for _, s := range m.series(name) {
			series[s] = m
		}
		allLabels = append(allLabels, m.labels...)
		if m.histogram {
			allLabels = append(allLabels, "le")
		}
	}
	for _, tok := range metricToken.FindAllString(expr, -1) {
		if _, ok := series[tok]; !ok {
			problems = append(problems, tok+" is not a metric of internal/metrics")
		}
	}
	foreign := false
	for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
		m, ok := series[sel[1]]
		if !ok {
			foreign = foreign || !strings.HasPrefix(sel[1], "invitepipe_")
			continue
		}
		allowed := append(slices.Clone(targetLabels), m.labels...)
		for _, mt := range matcher.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if !slices.Contains(allowed, label) {
				problems = append(problems, sel[1]+" has no label "+label)
			}
			known, closed := values[sel[1]+"/"+label]
			if !closed {
				known, closed = values[label]
			}
			if closed && (op == "=" || op == "=~") {
				for _, v := range strings.Split(value, "|") {
					if !slices.Contains(known, v) {
						problems = append(problems, label+" "+strconv.Quote(v)+" is not one of "+strings.Join(known, ", "))
					}
				}
			}
		}
	}
	if !foreign { // labels of other exporters' metrics are not ours to check
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(allLabels, l) {
					problems = append(problems, "grouping by unknown label "+l)
				}
			}
		}
	}
	return problems
}

// labelValues returns the closed sets of label values: outcome (internal/metrics'
// Outcome* constants), the producer's rows outcome (its Rows* constants) and reason
// (internal/lane's Reason constants).
func labelValues(t *testing.T) map[string][]string {
	t.Helper()
	var outcomes []string
	for _, v := range stringConsts(t, metricsSource, "Outcome") {
		outcomes = append(outcomes, v)
	}
	slices.Sort(outcomes)
	reasons := typedConsts(t, laneSource, "Reason")
	if len(outcomes) == 0 || len(reasons) == 0 {
		t.Fatalf("no outcomes in %s or no reasons in %s", metricsSource, laneSource)
	}
	rows := slices.Sorted(maps.Values(stringConsts(t, producerMetrics, "Rows")))
	if len(rows) == 0 {
		t.Fatalf("no Rows* outcomes in %s", producerMetrics)
	}
	return map[string][]string{"outcome": outcomes, "reason": reasons, "invitepipe_producer_rows_total/outcome": rows}
}

// dashboardQueries returns every PromQL text of the dashboard: panel targets' expr and
// template variables' definition.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var queries []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					queries = append(queries, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(dash)
	return queries
}

// alertRules returns the rules of the PrometheusRule.
func alertRules(t *testing.T) []any {
	t.Helper()
	var rules []any
	for _, g := range list(yamlDoc(t, alertsFile), "spec", "groups") {
		rules = append(rules, list(g, "rules")...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return rules
}

func TestMonitoringUsesDefinedMetrics(t *testing.T) {
	metrics, values := definedMetrics(t), labelValues(t)
	var sources []struct{ name, expr string }
	for i, q := range dashboardQueries(t) {
		sources = append(sources, struct{ name, expr string }{"dashboard query " + strconv.Itoa(i), q})
	}
	for _, r := range alertRules(t) {
		sources = append(sources, struct{ name, expr string }{"alert " + str(r, "alert"), str(r, "expr")})
	}
	for i, tr := range kedaTriggers(t) {
		if q := str(tr, "metadata", "query"); q != "" {
			sources = append(sources, struct{ name, expr string }{"KEDA trigger " + strconv.Itoa(i), q})
		}
	}
	for _, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			for _, p := range checkPromQL(s.expr, metrics, values) {
				t.Errorf("%s\n  in %s", p, s.expr)
			}
		})
	}
}

func TestCheckPromQLCatchesDrift(t *testing.T) {
	metrics := map[string]metric{
		"invitepipe_messages_total":           {labels: []string{"outcome"}},
		"invitepipe_request_duration_seconds": {histogram: true, labels: []string{"destination"}},
	}
	metrics["invitepipe_destination_waiting"] = metric{labels: []string{"destination", "reason"}}
	metrics["invitepipe_producer_rows_total"] = metric{labels: []string{"activation", "outcome"}}
	values := map[string][]string{"outcome": {"dlq", "sent"}, "reason": {"paused", "retry"}, "invitepipe_producer_rows_total/outcome": {"emitted", "read"}}
	tests := []struct {
		name, expr string
		problems   int
	}{
		{"known metric and labels", `sum by (outcome) (rate(invitepipe_messages_total{job="x", outcome=~"sent|dlq"}[5m]))`, 0},
		{"histogram series", `histogram_quantile(0.9, sum by (le, destination) (rate(invitepipe_request_duration_seconds_bucket[5m])))`, 0},
		{"renamed metric", `rate(invitepipe_message_total[5m])`, 1},
		{"histogram without suffix", `invitepipe_request_duration_seconds`, 1},
		{"unknown selector label", `invitepipe_messages_total{destination="a"}`, 1},
		{"unknown outcome", `invitepipe_messages_total{outcome=~"sent|failed"}`, 1},
		{"known reason", `max by (destination, reason) (invitepipe_destination_waiting{reason="paused"})`, 0},
		{"unknown reason", `invitepipe_destination_waiting{reason=~"paused|throttled"}`, 1},
		{"negative matchers are not checked", `invitepipe_destination_waiting{reason!="retry"}`, 0},
		{"unknown grouping label", `sum by (destinaton) (invitepipe_messages_total)`, 1},
		{"other exporters are not checked", `sum by (topic) (kafka_consumergroup_lag{consumergroup="g"})`, 0},
		{"a metric's own outcomes", `invitepipe_producer_rows_total{outcome=~"read|emitted"}`, 0},
		{"another metric's outcome", `invitepipe_producer_rows_total{outcome="sent"}`, 1},
		{"the producer's outcome on messages", `invitepipe_messages_total{outcome="emitted"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkPromQL(tt.expr, metrics, values); len(got) != tt.problems {
				t.Errorf("problems = %q, want %d", got, tt.problems)
			}
		})
	}
}

func TestDashboardShowsEveryMetric(t *testing.T) {
	all := strings.Join(dashboardQueries(t), "\n")
	for name := range definedMetrics(t) {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(all, name) {
				t.Errorf("no dashboard panel uses %s", name)
			}
		})
	}
}

func TestDashboardPanels(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ W, H int } `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("dashboard needs a uid and panels")
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want the ${datasource} variable and at least one query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
		}
	}
}

// producerJob is the job label of schedule mode's series: the name of the Service that
// producer-cronjob.yaml's commented alternative defines.
const producerJob = "invitepipe-producer"

func TestAlertRules(t *testing.T) {
	consumerJob := `job="` + scrapeJob(t) + `"`
	for _, r := range alertRules(t) {
		t.Run(str(r, "alert"), func(t *testing.T) {
			if str(r, "alert") == "" || str(r, "expr") == "" {
				t.Fatal("a rule needs alert and expr")
			}
			if _, err := time.ParseDuration(str(r, "for")); err != nil {
				t.Errorf("for: %v", err)
			}
			if sev := str(r, "labels", "severity"); sev != "warning" && sev != "critical" {
				t.Errorf("severity %q, want warning or critical", sev)
			}
			if str(r, "annotations", "summary") == "" || str(r, "annotations", "description") == "" {
				t.Error("summary and description are required")
			}
			// The ServiceMonitor's targets carry the Service's name as their job; other
			// exporters' series (kube-state-metrics) carry theirs.
			for _, sel := range selector.FindAllStringSubmatch(str(r, "expr"), -1) {
				job := consumerJob
				switch {
				case !strings.HasPrefix(sel[1], "invitepipe_"):
					continue
				case strings.HasPrefix(sel[1], "invitepipe_producer_"):
					job = `job="` + producerJob + `"`
				}
				if !strings.Contains(sel[2], job) {
					t.Errorf("selector %s{%s} does not select %s", sel[1], sel[2], job)
				}
			}
		})
	}
}

// kafkaDefaultRetention is Kafka's default retention.ms (log.retention.hours=168). With
// INVITEPIPE_DEFER_MAX_AGE=0s the consumer expires deferred rows at half the topic's
// retention; the alerts assume this retention until an operator sets the max age.
const kafkaDefaultRetention = 168 * time.Hour

// deferMaxAge is the age at which the base deployment dead-letters deferred rows:
// INVITEPIPE_DEFER_MAX_AGE as its ConfigMap sets it, else the variable's default, where 0
// means half the topic's retention (Kafka's default assumed).
func deferMaxAge(t *testing.T) time.Duration {
	t.Helper()
	const name = "INVITEPIPE_DEFER_MAX_AGE"
	v, ok := configLiterals(t)[name]
	if !ok {
		v, ok = knownVars(t)[name]
	}
	if !ok {
		t.Fatalf("%s is not a variable of %s", name, configSource)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s %q: want a duration, 0s or more", name, v)
	}
	if d == 0 {
		d = kafkaDefaultRetention / 2
	}
	return d
}

// ageThreshold matches a rule ending in "> FRACTION * SECONDS".
var ageThreshold = regexp.MustCompile(`>\s*([0-9.]+)\s*\*\s*([0-9]+)\s*$`)

// The rows waiting for a destination are watched: a warning at half the age at which they
// are dead-lettered, a critical alert at 80%, and a critical alert the moment Kafka deletes
// one before it could be read again. The paused-destination alert stays.
func TestDeferredRowsAlerts(t *testing.T) {
	maxAge := deferMaxAge(t)
	rules := alertRules(t)
	using := func(metric string) []any {
		var found []any
		for _, r := range rules {
			if slices.Contains(metricToken.FindAllString(str(r, "expr"), -1), metric) {
				found = append(found, r)
			}
		}
		return found
	}
	t.Run("oldest deferred age, relative to INVITEPIPE_DEFER_MAX_AGE", func(t *testing.T) {
		want := map[string]float64{"warning": 0.5, "critical": 0.8}
		for _, r := range using("invitepipe_deferred_oldest_seconds") {
			sev, expr := str(r, "labels", "severity"), strings.TrimSpace(str(r, "expr"))
			m := ageThreshold.FindStringSubmatch(expr)
			if m == nil {
				t.Errorf("%s: %q does not end in > FRACTION * SECONDS", str(r, "alert"), expr)
				continue
			}
			frac, _ := strconv.ParseFloat(m[1], 64)
			secs, _ := strconv.Atoi(m[2])
			if frac != want[sev] {
				t.Errorf("%s (%s): %s of the max age, want %v", str(r, "alert"), sev, m[1], want[sev])
			}
			if time.Duration(secs)*time.Second != maxAge {
				t.Errorf("%s: %d s, but INVITEPIPE_DEFER_MAX_AGE comes to %s (%d s): keep the ConfigMap and the alerts in step",
					str(r, "alert"), secs, maxAge, int(maxAge.Seconds()))
			}
			if !strings.Contains(expr, "by (destination)") {
				t.Errorf("%s: want the age per destination (max by (destination))", str(r, "alert"))
			}
			delete(want, sev)
		}
		if len(want) > 0 {
			t.Errorf("no alert on invitepipe_deferred_oldest_seconds with severity %v", slices.Sorted(maps.Keys(want)))
		}
	})
	t.Run("lost deferred rows are critical", func(t *testing.T) {
		rs := using("invitepipe_deferred_lost_total")
		if len(rs) == 0 {
			t.Fatal("no alert on invitepipe_deferred_lost_total")
		}
		for _, r := range rs {
			expr := str(r, "expr")
			if str(r, "labels", "severity") != "critical" || !strings.Contains(expr, "increase(") || !regexp.MustCompile(`>\s*0\s*$`).MatchString(expr) {
				t.Errorf("%s: want a critical alert on increase(invitepipe_deferred_lost_total[...]) > 0, got %s %q", str(r, "alert"), str(r, "labels", "severity"), expr)
			}
		}
	})
	t.Run("paused destinations", func(t *testing.T) {
		if len(using("invitepipe_destination_paused")) == 0 {
			t.Error("no alert on invitepipe_destination_paused")
		}
	})
}

// Every dead-letter class of internal/dlq is explained in schemas/dlq.v1.md and named by
// the dead-letter alert, and the document lists no class the code lacks.
func TestDeadLetterClassesDocumented(t *testing.T) {
	classes := typedConsts(t, dlqSource, "Class")
	if len(classes) == 0 {
		t.Fatalf("no Class constants in %s", dlqSource)
	}
	b, err := os.ReadFile(dlqDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Error classes")
	if !ok {
		t.Fatalf("%s has no section Error classes", dlqDoc)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	if !slices.Equal(documented, classes) {
		t.Errorf("%s documents classes %v, internal/dlq defines %v", dlqDoc, documented, classes)
	}
	var described bool
	for _, r := range alertRules(t) {
		if !strings.Contains(str(r, "expr"), `outcome="dlq"`) {
			continue
		}
		described = true
		for _, c := range classes {
			if !strings.Contains(str(r, "annotations", "description"), c) {
				t.Errorf("alert %s does not name the dead-letter class %s", str(r, "alert"), c)
			}
		}
	}
	if !described {
		t.Error("no alert on dead-lettered messages (outcome=\"dlq\")")
	}
}

// repoPath matches paths into the repository that the deployment files mention.
var repoPath = regexp.MustCompile(`(?:^|[\s("'\x60\[])((?:\.\./)*(?:deploy|schemas|internal|cmd|scripts|test)/[A-Za-z0-9_./-]*[A-Za-z0-9_]|[A-Za-z0-9_./-]+\.md)\b`)

// The deployment files stand alone: every file or directory of the repository they
// point to exists.
func TestReferencedFilesExist(t *testing.T) {
	files := append(deployFiles(t, ".yaml", ".yml", ".json", ".md"), "Dockerfile", dlqDoc)
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range repoPath.FindAllStringSubmatch(string(b), -1) {
				ref := strings.TrimPrefix(m[1], "./")
				candidates := []string{filepath.Join("..", strings.TrimLeft(ref, "./")), filepath.Join(filepath.Dir(path), ref)}
				var found bool
				for _, c := range candidates {
					if _, err := os.Stat(c); err == nil {
						found = true
					}
				}
				if !found {
					t.Errorf("%s names %s, which is not in the repository", path, m[1])
				}
			}
		})
	}
}

// ---- docker compose ----

// composeEnv returns a compose service's environment (a mapping).
func composeEnv(service any) map[string]string {
	env := map[string]string{}
	m, _ := dig(service, "environment").(map[string]any)
	for k, v := range m {
		env[k] = str(v)
	}
	return env
}

func TestComposeStack(t *testing.T) {
	compose := yamlDoc(t, composeFile)
	svc := func(name string) any {
		s := dig(compose, "services", name)
		if s == nil {
			t.Fatalf("compose has no service %s", name)
		}
		return s
	}
	consumer, sandbox := svc("consumer"), svc("sandbox")
	env := func(name string) string { return str(consumer, "environment", name) }

	t.Run("consumer uses the sandbox's default credentials", func(t *testing.T) {
		defaults := stringConsts(t, sandboxDefaults, "Default")
		want := map[string]string{
			"api_key_env":          defaults["DefaultAPIKey"],
			"api_secret_env":       defaults["DefaultAPISecret"],
			"business_user_id_env": defaults["DefaultBusinessUserID"],
		}
		for _, d := range list(yamlDoc(t, exampleActFile), "destinations") {
			if got := str(d, "business_unit_id"); got != defaults["DefaultBusinessUnitID"] {
				t.Errorf("destination %s: business unit %s, the sandbox has %s", str(d, "name"), got, defaults["DefaultBusinessUnitID"])
			}
			for field, value := range want {
				if name := str(d, "credentials", field); name != "" && env(name) != value {
					t.Errorf("%s = %q, want the sandbox's %q", name, env(name), value)
				}
			}
		}
	})
	t.Run("consumer calls the sandbox", func(t *testing.T) {
		cmd := list(sandbox, "command")
		i := slices.Index(cmd, any("--addr"))
		if i < 0 || i+1 >= len(cmd) {
			t.Fatalf("sandbox command %v has no --addr", cmd)
		}
		_, port, _ := net.SplitHostPort(cmd[i+1].(string))
		for _, v := range []string{"INVITEPIPE_TRUSTPILOT_API_URL", "INVITEPIPE_TRUSTPILOT_INVITATIONS_URL"} {
			if got, want := env(v), "http://sandbox:"+port; got != want {
				t.Errorf("%s = %q, want %q", v, got, want)
			}
		}
	})
	t.Run("activation file mounted where INVITEPIPE_ACTIVATIONS points", func(t *testing.T) {
		want := "./" + strings.TrimPrefix(exampleActFile, "../") + ":" + env("INVITEPIPE_ACTIVATIONS") + ":ro"
		if vols := list(consumer, "volumes"); !slices.Contains(vols, any(want)) {
			t.Errorf("volumes = %v, want %s", vols, want)
		}
	})
	t.Run("redis password", func(t *testing.T) {
		cmd := list(svc("redis"), "command")
		i := slices.Index(cmd, any("--requirepass"))
		if i < 0 || i+1 >= len(cmd) || cmd[i+1] != env("INVITEPIPE_REDIS_PASSWORD") {
			t.Errorf("redis %v and INVITEPIPE_REDIS_PASSWORD %q disagree", cmd, env("INVITEPIPE_REDIS_PASSWORD"))
		}
		if u, err := url.Parse(env("INVITEPIPE_REDIS_URL")); err != nil || u.User != nil {
			t.Errorf("INVITEPIPE_REDIS_URL %q: want a URL without credentials", env("INVITEPIPE_REDIS_URL"))
		}
	})
	t.Run("brokers and topics", func(t *testing.T) {
		kafka := svc("kafka")
		if adv := str(kafka, "environment", "KAFKA_ADVERTISED_LISTENERS"); !strings.Contains(adv, "://"+env("INVITEPIPE_KAFKA_BROKERS")) {
			t.Errorf("INVITEPIPE_KAFKA_BROKERS %q is not an advertised listener (%s)", env("INVITEPIPE_KAFKA_BROKERS"), adv)
		}
		var script strings.Builder
		for _, c := range list(svc("kafka-init"), "command") {
			script.WriteString(" " + str(c))
		}
		for _, v := range []string{"INVITEPIPE_KAFKA_TOPIC", "INVITEPIPE_KAFKA_DLQ_TOPIC"} {
			if !strings.Contains(script.String(), " "+env(v)+":") {
				t.Errorf("kafka-init does not create %s %q", v, env(v))
			}
		}
	})
	t.Run("admin port published", func(t *testing.T) {
		port := adminPort(t, composeEnv(consumer))
		if ports := list(consumer, "ports"); !slices.Contains(ports, any("127.0.0.1:"+port+":"+port)) {
			t.Errorf("ports = %v, want 127.0.0.1:%s:%s", ports, port, port)
		}
	})
	t.Run("ports published on loopback only", func(t *testing.T) {
		for name, s := range dig(compose, "services").(map[string]any) {
			for _, p := range list(s, "ports") {
				if ps, _ := p.(string); !strings.HasPrefix(ps, "127.0.0.1:") {
					t.Errorf("service %s publishes %v beyond 127.0.0.1", name, p)
				}
			}
		}
	})
	t.Run("stop grace period outlasts the shutdown", func(t *testing.T) {
		grace, err := time.ParseDuration(str(consumer, "stop_grace_period"))
		if budget := shutdownBudget(t, composeEnv(consumer)); err != nil || grace <= budget {
			t.Errorf("stop_grace_period %q, want more than the consumer's shutdown budget %s", str(consumer, "stop_grace_period"), budget)
		}
	})
	t.Run("producer shares the consumer's Kafka, topic and Redis", func(t *testing.T) {
		producer := svc("producer")
		cmd := list(producer, "command")
		if len(cmd) == 0 || cmd[0] != "produce" || !slices.Contains(subcommands(t), str(cmd[0])) {
			t.Errorf("producer command %v, want [produce] (schedule mode)", cmd)
		}
		for _, v := range []string{"INVITEPIPE_KAFKA_BROKERS", "INVITEPIPE_KAFKA_TOPIC", "INVITEPIPE_REDIS_URL", "INVITEPIPE_REDIS_PASSWORD", "INVITEPIPE_ACTIVATIONS"} {
			if got := str(producer, "environment", v); got != env(v) || got == "" {
				t.Errorf("producer %s = %q, the consumer's is %q", v, got, env(v))
			}
		}
		port := adminPort(t, composeEnv(producer))
		if ports := list(producer, "ports"); !slices.Contains(ports, any("127.0.0.1:"+port+":"+port)) || port == adminPort(t, composeEnv(consumer)) {
			t.Errorf("producer ports = %v, want its own admin port %s published", ports, port)
		}
	})
	t.Run("credentials the example names are set", func(t *testing.T) {
		for _, name := range credentialVars(t, exampleActFile) {
			if env(name) == "" {
				t.Errorf("%s is not set for the consumer", name)
			}
		}
	})
}

// ---- the producer ----

// subcommands returns the names of cmd/invitepipe's commands (name: fields of commands()).
func subcommands(t *testing.T) []string {
	t.Helper()
	var names []string
	ast.Inspect(parseGo(t, commandsSource), func(n ast.Node) bool {
		if kv, ok := n.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "name" {
				if s, ok := stringLit(kv.Value); ok {
					names = append(names, s)
				}
			}
		}
		return true
	})
	if len(names) == 0 {
		t.Fatalf("no commands found in %s", commandsSource)
	}
	return names
}

// produceFlags returns the flags `invitepipe produce` defines (fs.Bool, fs.String, fs.Var,
// ... calls' names).
func produceFlags(t *testing.T) []string {
	t.Helper()
	var flags []string
	ast.Inspect(parseGo(t, produceSource), func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fs" {
			return true
		}
		arg := call.Args[0]
		if sel.Sel.Name == "Var" {
			arg = call.Args[1]
		}
		if name, ok := stringLit(arg); ok {
			flags = append(flags, name)
		}
		return true
	})
	if len(flags) == 0 {
		t.Fatalf("no flags found in %s", produceSource)
	}
	return flags
}

// dsnVars returns the dsn_env of every postgresql source of an activation file.
func dsnVars(t *testing.T, path string) []string {
	t.Helper()
	var vars []string
	for _, a := range list(yamlDoc(t, path), "activations") {
		if str(a, "source", "type") == "postgresql" {
			vars = append(vars, str(a, "source", "dsn_env"))
		}
	}
	return vars
}

func TestProducerCronJob(t *testing.T) {
	cj := yamlDoc(t, producerCronJob)
	job := dig(cj, "spec", "jobTemplate", "spec")
	pod := dig(job, "template", "spec")
	containers := list(pod, "containers")
	if str(cj, "kind") != "CronJob" || len(containers) != 1 {
		t.Fatalf("%s: kind %q with %d containers, want a CronJob with one", producerCronJob, str(cj, "kind"), len(containers))
	}
	c := containers[0]
	env := containerEnv(c)

	t.Run("in the base", func(t *testing.T) {
		if res := list(kustomization(t), "resources"); !slices.Contains(res, any(filepath.Base(producerCronJob))) {
			t.Errorf("base resources %v lack %s", res, filepath.Base(producerCronJob))
		}
	})
	t.Run("runs produce --once", func(t *testing.T) {
		args := list(c, "args")
		if len(args) == 0 || !slices.Contains(subcommands(t), str(args[0])) || args[0] != "produce" {
			t.Fatalf("args = %v, want produce --once", args)
		}
		flags := produceFlags(t)
		for _, a := range args[1:] {
			name, _, _ := strings.Cut(strings.TrimLeft(str(a), "-"), "=")
			if !strings.HasPrefix(str(a), "-") || !slices.Contains(flags, name) {
				t.Errorf("argument %v is not a flag of produce (%v)", a, flags)
			}
		}
		if !slices.Contains(args, any("--once")) {
			t.Errorf("args = %v: a CronJob's run must end, want --once", args)
		}
	})
	t.Run("runs never pile up", func(t *testing.T) {
		if got := str(cj, "spec", "concurrencyPolicy"); got != "Forbid" {
			t.Errorf("concurrencyPolicy = %q, want Forbid", got)
		}
		if b, ok := dig(job, "backoffLimit").(int); !ok || b < 1 || b > 5 {
			t.Errorf("backoffLimit = %v, want 1 to 5: a retry or a few, a rerun emits only what is not recorded", dig(job, "backoffLimit"))
		}
		deadline, ok := dig(job, "activeDeadlineSeconds").(int)
		if !ok || deadline <= 0 {
			t.Fatalf("activeDeadlineSeconds = %v, want a positive bound on a wedged run", dig(job, "activeDeadlineSeconds"))
		}
		// With "*/N * * * *" the Job must end before the next start is due.
		if f := strings.Fields(str(cj, "spec", "schedule")); len(f) == 5 && strings.HasPrefix(f[0], "*/") && strings.Join(f[1:], " ") == "* * * *" {
			n, err := strconv.Atoi(strings.TrimPrefix(f[0], "*/"))
			if err != nil || deadline >= n*60 {
				t.Errorf("activeDeadlineSeconds %d, schedule %q: want the Job to end before the next start", deadline, str(cj, "spec", "schedule"))
			}
		}
		if rp := str(pod, "restartPolicy"); rp != "Never" && rp != "OnFailure" {
			t.Errorf("restartPolicy = %q, want Never or OnFailure", rp)
		}
	})
	t.Run("variables", func(t *testing.T) {
		known := knownVars(t)
		dsns := dsnVars(t, filepath.Join(baseDir, "activations.yaml"))
		if len(dsns) == 0 {
			t.Fatal("the base activation file has no postgresql source: the CronJob would have nothing to check its dsn_env against")
		}
		for name := range env {
			if _, ok := known[name]; !ok && !slices.Contains(dsns, name) {
				t.Errorf("%s is neither a variable of %s nor a source's dsn_env", name, configSource)
			}
		}
		for _, name := range append(dsns, "INVITEPIPE_REDIS_PASSWORD", "INVITEPIPE_ACTIVATIONS") {
			if env[name] == nil {
				t.Errorf("%s is not set", name)
			}
		}
		// Least privilege: the producer never calls Trustpilot.
		for _, name := range credentialVars(t, filepath.Join(baseDir, "activations.yaml")) {
			if env[name] != nil {
				t.Errorf("%s is set: the producer needs no Trustpilot credential", name)
			}
		}
		if got := str(c, "envFrom", 0, "configMapRef", "name"); got != "invitepipe-config" {
			t.Errorf("envFrom %q, want the ConfigMap invitepipe-config", got)
		}
	})
	t.Run("secrets come from the Secret", func(t *testing.T) {
		example := dig(yamlDoc(t, "kubernetes/secret.example.yaml"), "stringData")
		dsns := dsnVars(t, filepath.Join(baseDir, "activations.yaml"))
		for name, e := range env {
			ref := dig(e, "valueFrom", "secretKeyRef")
			if ref == nil {
				if isSecretName(name) || slices.Contains(dsns, name) {
					t.Errorf("%s must come from a secretKeyRef", name)
				}
				continue
			}
			if str(ref, "name") != "invitepipe-secrets" || str(ref, "key") != name {
				t.Errorf("%s: secretKeyRef %s/%s, want invitepipe-secrets/%s", name, str(ref, "name"), str(ref, "key"), name)
			}
			if str(ref, "optional") != "true" && dig(example, name) == nil {
				t.Errorf("%s is required but missing from kubernetes/secret.example.yaml", name)
			}
		}
	})
	t.Run("pod like the consumer's", func(t *testing.T) {
		consumerPod := dig(deployment(t), "spec", "template", "spec")
		for _, path := range [][]any{
			{"serviceAccountName"}, {"automountServiceAccountToken"}, {"securityContext", "runAsNonRoot"},
			{"securityContext", "runAsUser"}, {"securityContext", "seccompProfile", "type"},
		} {
			if got, want := str(pod, path...), str(consumerPod, path...); got != want || got == "" {
				t.Errorf("pod %v = %q, the consumer's is %q", path, got, want)
			}
		}
		cc := consumerContainer(t, deployment(t))
		for _, field := range []string{"readOnlyRootFilesystem", "allowPrivilegeEscalation", "runAsNonRoot"} {
			if got, want := str(c, "securityContext", field), str(cc, "securityContext", field); got != want || got == "" {
				t.Errorf("container securityContext.%s = %q, the consumer's is %q", field, got, want)
			}
		}
		if str(c, "image") != str(cc, "image") {
			t.Errorf("image %q, the consumer's is %q", str(c, "image"), str(cc, "image"))
		}
		path := str(env["INVITEPIPE_ACTIVATIONS"], "value")
		var mounted string
		for _, m := range list(c, "volumeMounts") {
			for _, v := range list(pod, "volumes") {
				if str(v, "name") == str(m, "name") && str(v, "configMap", "name") == "invitepipe-activations" {
					mounted = str(m, "mountPath") + "/" + str(v, "configMap", "items", 0, "path")
				}
			}
		}
		if path == "" || path != mounted {
			t.Errorf("INVITEPIPE_ACTIVATIONS = %q, the ConfigMap invitepipe-activations is mounted at %q", path, mounted)
		}
	})
}

// Runs that stop succeeding are noticed: in schedule mode from the producer's own
// last-success metric, and for the CronJob (whose pods' metrics are never scraped) from
// kube-state-metrics.
func TestProducerAlerts(t *testing.T) {
	var onMetric, onCronJob bool
	cronJob := str(yamlDoc(t, producerCronJob), "metadata", "name")
	for _, r := range alertRules(t) {
		expr := str(r, "expr")
		if slices.Contains(metricToken.FindAllString(expr, -1), "invitepipe_producer_last_success_timestamp_seconds") {
			onMetric = true
			if !strings.Contains(expr, "time() -") || !strings.Contains(expr, "by (activation)") {
				t.Errorf("%s: want the age of the last success per activation, got %q", str(r, "alert"), expr)
			}
		}
		if strings.Contains(expr, "kube_cronjob_status_last_successful_time") {
			onCronJob = true
			if !strings.Contains(expr, `cronjob="`+cronJob+`"`) {
				t.Errorf("%s: want cronjob=%q, got %q", str(r, "alert"), cronJob, expr)
			}
		}
	}
	if !onMetric {
		t.Error("no alert on invitepipe_producer_last_success_timestamp_seconds")
	}
	if !onCronJob {
		t.Error("no alert on the CronJob's last successful time (kube_cronjob_status_last_successful_time)")
	}
}
