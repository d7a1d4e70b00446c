package results

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run"+Extension)
	r := fixtureRun()
	if err := Save(path, r); err != nil {
		t.Fatal(err)
	}
	// Saving again replaces the file in place.
	r.Probe = "stream"
	if err := Save(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalized(got), normalized(r)) {
		t.Errorf("Load(Save(r)) changed the run:\n got %+v\nwant %+v", got, r)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("Save left %v in the directory, want only the run file", names)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.msgpack")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.msgpack")
	good := fixtureMsgpack(t)
	if err := os.WriteFile(bad, good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	if !errors.Is(err, ErrNotRun) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load of a truncated file: %v, want ErrNotRun naming the file", err)
	}
	if err := Save(filepath.Join(dir, "no", "such", "dir", "x.msgpack"), fixtureRun()); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

func TestLoadAny(t *testing.T) {
	dir := t.TempDir()
	r := fixtureRun()
	mp := filepath.Join(dir, "run.msgpack")
	if err := Save(mp, r); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "run.json")
	f, err := os.Create(js)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n  ")
	if err := EncodeJSON(f, r); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{mp, js} {
		got, err := LoadAny(p)
		if err != nil {
			t.Fatalf("LoadAny(%s): %v", p, err)
		}
		if !reflect.DeepEqual(normalized(got), normalized(r)) {
			t.Errorf("LoadAny(%s) changed the run", p)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"format": "lvsperf-run", "schema": 99}`), 0o644)
	if _, err := LoadAny(bad); !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadAny(newer JSON) = %v, want ErrNewerSchema naming the file", err)
	}
	if _, err := LoadAny(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadAny(missing) = %v, want ErrNotExist", err)
	}
}
