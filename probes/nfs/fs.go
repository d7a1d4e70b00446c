package nfs

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
)

// ErrPathEscape is returned for a name that tries to leave the export with
// a ".." element. It wraps os.ErrPermission.
var ErrPathEscape = fmt.Errorf("name leaves the export: %w", os.ErrPermission)

// exportFS is the filesystem go-nfs serves: a billy filesystem rooted at the
// export directory that refuses names with a ".." element and accepts, but
// ignores, changes of mode, owner and times (billy.Change: go-nfs fails a
// CREATE with NFS3ERR_IO when the filesystem lacks it). Size changes go
// through Truncate and are applied.
type exportFS struct {
	billy.Filesystem
}

func checkName(name string) error {
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return fmt.Errorf("name %q has a \"..\" element: %w", name, ErrPathEscape)
		}
	}
	return nil
}

func (f exportFS) Create(name string) (billy.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.Create(name)
}

func (f exportFS) Open(name string) (billy.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.Open(name)
}

func (f exportFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.OpenFile(name, flag, perm)
}

func (f exportFS) Stat(name string) (os.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.Stat(name)
}

func (f exportFS) Lstat(name string) (os.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.Lstat(name)
}

func (f exportFS) Rename(from, to string) error {
	if err := checkName(from); err != nil {
		return err
	}
	if err := checkName(to); err != nil {
		return err
	}
	return f.Filesystem.Rename(from, to)
}

func (f exportFS) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return f.Filesystem.Remove(name)
}

func (f exportFS) MkdirAll(name string, perm os.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	return f.Filesystem.MkdirAll(name, perm)
}

func (f exportFS) ReadDir(name string) ([]os.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.Filesystem.ReadDir(name)
}

func (f exportFS) Symlink(target, link string) error {
	return fmt.Errorf("symlink %q: the benchmark export does not make links: %w", link, os.ErrPermission)
}

func (f exportFS) Chmod(name string, mode os.FileMode) error         { return checkName(name) }
func (f exportFS) Lchown(name string, uid, gid int) error            { return checkName(name) }
func (f exportFS) Chown(name string, uid, gid int) error             { return checkName(name) }
func (f exportFS) Chtimes(name string, atime, mtime time.Time) error { return checkName(name) }
