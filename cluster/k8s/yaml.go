package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// WriteYAML writes objs to w as one multi-document YAML stream, each
// document opened by "---", for `kubectl apply -f`. Every object must have
// its apiVersion and kind set (as [Manifest]'s do). The output is
// deterministic: fields come in sorted order, and a given input always
// renders to the same bytes.
func WriteYAML(w io.Writer, objs ...runtime.Object) error {
	var buf bytes.Buffer
	for i, obj := range objs {
		doc, err := documentYAML(obj)
		if err != nil {
			return fmt.Errorf("rendering object %d of %d as YAML: %w", i+1, len(objs), err)
		}
		buf.WriteString("---\n")
		buf.Write(doc)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	return nil
}

// documentYAML renders one object. It goes through JSON, as kubectl does,
// so that the API's json tags (omitempty, quantities, int-or-string) decide
// the shape, then drops a status with nothing in it (`status:
// {loadBalancer: {}}`): the API server owns status and ignores it on create.
func documentYAML(obj runtime.Object) ([]byte, error) {
	if v := reflect.ValueOf(obj); obj == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil, fmt.Errorf("expected an object, got a nil %T", obj)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Version == "" || gvk.Kind == "" {
		return nil, fmt.Errorf("expected apiVersion and kind set on the %T, found apiVersion %q kind %q: set its TypeMeta", obj, gvk.GroupVersion().String(), gvk.Kind)
	}
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s as JSON: %w", gvk.Kind, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(j, &fields); err != nil {
		return nil, fmt.Errorf("decoding the %s's JSON: %w", gvk.Kind, err)
	}
	if s, ok := fields["status"]; ok && hollow(s) {
		delete(fields, "status")
	}
	y, err := yaml.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s as YAML: %w", gvk.Kind, err)
	}
	return y, nil
}

// hollow reports whether v is a JSON object holding only hollow objects.
func hollow(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for _, e := range m {
		if !hollow(e) {
			return false
		}
	}
	return true
}
