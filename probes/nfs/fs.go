package nfs

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5"

	"github.com/lvsperf/lvsperf/timing"
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
	// calls counts the READ and WRITE payloads served (nil counts nothing).
	calls *callCounts
}

// callCounts counts what go-nfs asked of the files: one ReadAt per READ
// and one Write per WRITE (go-nfs v0.0.4 opens the file for each call).
type callCounts struct {
	reads, readBytes, maxRead    atomic.Int64
	writes, writeBytes, maxWrite atomic.Int64
}

// Payloads are the READ and WRITE calls a server served, and their largest
// payloads: what rsize and wsize came to on the wire.
type Payloads struct {
	Reads, Writes         int64
	ReadBytes, WriteBytes timing.Bytes
	MaxRead, MaxWrite     timing.Bytes
}

func (c *callCounts) snapshot() Payloads {
	if c == nil {
		return Payloads{}
	}
	return Payloads{
		Reads: c.reads.Load(), Writes: c.writes.Load(),
		ReadBytes: timing.Bytes(c.readBytes.Load()), WriteBytes: timing.Bytes(c.writeBytes.Load()),
		MaxRead: timing.Bytes(c.maxRead.Load()), MaxWrite: timing.Bytes(c.maxWrite.Load()),
	}
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// countedFile counts the payloads of a file's ReadAt and Write calls.
type countedFile struct {
	billy.File
	c *callCounts
}

func (f countedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.c.reads.Add(1)
	f.c.readBytes.Add(int64(n))
	storeMax(&f.c.maxRead, int64(n))
	return n, err
}

func (f countedFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.c.writes.Add(1)
	f.c.writeBytes.Add(int64(n))
	storeMax(&f.c.maxWrite, int64(n))
	return n, err
}

func (f exportFS) counted(file billy.File, err error) (billy.File, error) {
	if err != nil || f.calls == nil {
		return file, err
	}
	return countedFile{File: file, c: f.calls}, nil
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
	return f.counted(f.Filesystem.Create(name))
}

func (f exportFS) Open(name string) (billy.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.counted(f.Filesystem.Open(name))
}

func (f exportFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return f.counted(f.Filesystem.OpenFile(name, flag, perm))
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
