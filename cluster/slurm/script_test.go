package slurm

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestScriptGolden(t *testing.T) {
	var b bytes.Buffer
	err := WriteScript(&b, ScriptOptions{Nodes: 4, Partition: "lab", TimeLimit: 5 * time.Minute, Out: "/shared/results",
		Plan: []string{"-h", "10.0.0.1:80", "-t", "10", "-c", "8", "--name", "it's mine", "/file/file.0"}})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "job.sh.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("script differs from %s (-update to accept):\n%s", golden, b.String())
	}
	if strings.Contains(b.String(), "LVSPERF_TOKEN=") {
		t.Error("the script must not set the token")
	}
}

func TestScriptRejects(t *testing.T) {
	for _, o := range []ScriptOptions{
		{Plan: []string{"-h", "x"}},
		{Nodes: 2},
		{Nodes: 2, Plan: []string{"-h", "x"}, TimeLimit: time.Second},
		{Nodes: 2, Plan: []string{"-h", "x"}, JobName: "a b"},
		{Nodes: 2, Plan: []string{"-h", "x"}, Port: 70000},
	} {
		if err := WriteScript(&bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"/file/file.0": "/file/file.0", "a b": "'a b'", "it's": `'it'\''s'`, "$(x)": "'$(x)'", "": "''"} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
