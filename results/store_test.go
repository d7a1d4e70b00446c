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
