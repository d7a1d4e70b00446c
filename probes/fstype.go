package probes

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fsName maps statfs(2)'s f_type to the name df -T prints.
func fsName(t int64) (string, bool) {
	switch t {
	case unix.TMPFS_MAGIC:
		return "tmpfs", true
	case unix.RAMFS_MAGIC:
		return "ramfs", true
	case unix.EXT4_SUPER_MAGIC: // ext2 and ext3 share it
		return "ext4", true
	case unix.XFS_SUPER_MAGIC:
		return "xfs", true
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs", true
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay", true
	case unix.NFS_SUPER_MAGIC:
		return "nfs", true
	case unix.FUSE_SUPER_MAGIC:
		return "fuse", true
	case unix.F2FS_SUPER_MAGIC:
		return "f2fs", true
	}
	return "", false
}

// FSType names the filesystem dir is on, from statfs(2): "tmpfs" (memory)
// or a disk's filesystem such as "ext4" (ext2, ext3 and ext4 share one
// magic number), "xfs", "btrfs", "overlay"; one it does not know comes back
// as its magic number in hex.
func FSType(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	if name, ok := fsName(int64(st.Type)); ok {
		return name, nil
	}
	return fmt.Sprintf("0x%x", uint64(st.Type)), nil
}

// InMemory reports whether fstype (FSType's answer) keeps files in memory,
// so that fsync costs no disk write.
func InMemory(fstype string) bool { return fstype == "tmpfs" || fstype == "ramfs" }
