package rehearsal

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/camphub/camphub/internal/testtool"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// nobody is what root_squash maps uid 0 and gid 0 to (the exports' default anonuid/anongid).
const nobody = 65534

// mountSquashed shows the directory backing at mountPoint the way a worker's NFS mount with
// root_squash shows the export: every operation runs on the backing file system with the
// caller's uid and gid, root's mapped to nobody, so the backing file system's own permission
// checks decide, as the NFS server's do. Root on the node therefore cannot traverse a 0700
// directory owned by 1000, while uid 1000 can. (bindfs cannot show this: it runs every
// operation as root.)
//
// What this stand-in hides of NFS: the network, client caching and hard-mount stalls, locking
// and only the primary group is used (sec=sys also sends up to 16 supplementary groups). The
// kernel caches no entries or attributes here (timeouts 0), so every lookup is checked with the
// caller's credentials, as the NFS client's ACCESS checks are per credential.
func mountSquashed(t *testing.T, backing, mountPoint string) {
	t.Helper()
	loop, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		t.Fatal(err)
	}
	rootNode := &squashNode{loop.(*fs.LoopbackNode)}
	rootNode.RootData.RootNode = rootNode
	zero := time.Duration(0)
	server, err := fs.Mount(mountPoint, rootNode, &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			AllowOther:  true, // containers run as uid 1000
			DirectMount: true,
			FsName:      "nfs-standin:" + backing,
			Name:        "camphub-squash",
		},
	})
	if err != nil {
		testtool.Missing(t, "mounting the root-squashing file system (FUSE): "+err.Error())
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			_ = syscall.Unmount(mountPoint, syscall.MNT_DETACH)
		}
	})
}

// asCaller runs f on a locked OS thread whose file-system uid and gid are the FUSE caller's,
// root squashed. A non-zero fsuid also drops the thread's file capabilities (DAC override).
func asCaller(ctx context.Context, f func()) {
	uid, gid := uint32(nobody), uint32(nobody)
	if c, ok := fuse.FromContext(ctx); ok {
		uid, gid = c.Uid, c.Gid
	}
	if uid == 0 {
		uid = nobody
	}
	if gid == 0 {
		gid = nobody
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	unix.Setfsgid(int(gid))
	unix.Setfsuid(int(uid))
	defer func() {
		unix.Setfsuid(0)
		unix.Setfsgid(0)
	}()
	f()
}

// squashNode is a loopback node whose every path operation runs as the caller (asCaller).
// Reads and writes go through file descriptors opened that way.
type squashNode struct {
	*fs.LoopbackNode
}

// WrapChild makes every node below the root a squashNode too.
func (n *squashNode) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &squashNode{ops.(*fs.LoopbackNode)}
}

func (n *squashNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (ch *fs.Inode, e syscall.Errno) {
	asCaller(ctx, func() { ch, e = n.LoopbackNode.Lookup(ctx, name, out) })
	return
}

func (n *squashNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) (e syscall.Errno) {
	asCaller(ctx, func() { e = n.LoopbackNode.Getattr(ctx, f, out) })
	return
}

func (n *squashNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) (e syscall.Errno) {
	asCaller(ctx, func() { e = n.LoopbackNode.Setattr(ctx, f, in, out) })
	return
}

func (n *squashNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (ch *fs.Inode, e syscall.Errno) {
	asCaller(ctx, func() { ch, e = n.LoopbackNode.Mkdir(ctx, name, mode, out) })
	return
}

func (n *squashNode) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (ch *fs.Inode, e syscall.Errno) {
	asCaller(ctx, func() { ch, e = n.LoopbackNode.Mknod(ctx, name, mode, rdev, out) })
	return
}

func (n *squashNode) Rmdir(ctx context.Context, name string) (e syscall.Errno) {
	asCaller(ctx, func() { e = n.LoopbackNode.Rmdir(ctx, name) })
	return
}

func (n *squashNode) Unlink(ctx context.Context, name string) (e syscall.Errno) {
	asCaller(ctx, func() { e = n.LoopbackNode.Unlink(ctx, name) })
	return
}

func (n *squashNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) (e syscall.Errno) {
	if p, ok := newParent.(*squashNode); ok {
		newParent = p.LoopbackNode
	}
	asCaller(ctx, func() { e = n.LoopbackNode.Rename(ctx, name, newParent, newName, flags) })
	return
}

func (n *squashNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (ch *fs.Inode, fh fs.FileHandle, fl uint32, e syscall.Errno) {
	asCaller(ctx, func() { ch, fh, fl, e = n.LoopbackNode.Create(ctx, name, flags, mode, out) })
	return
}

func (n *squashNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (ch *fs.Inode, e syscall.Errno) {
	asCaller(ctx, func() { ch, e = n.LoopbackNode.Symlink(ctx, target, name, out) })
	return
}

func (n *squashNode) Readlink(ctx context.Context) (b []byte, e syscall.Errno) {
	asCaller(ctx, func() { b, e = n.LoopbackNode.Readlink(ctx) })
	return
}

func (n *squashNode) Open(ctx context.Context, flags uint32) (fh fs.FileHandle, fl uint32, e syscall.Errno) {
	asCaller(ctx, func() { fh, fl, e = n.LoopbackNode.Open(ctx, flags) })
	return
}

func (n *squashNode) OpendirHandle(ctx context.Context, flags uint32) (fh fs.FileHandle, fl uint32, e syscall.Errno) {
	asCaller(ctx, func() { fh, fl, e = n.LoopbackNode.OpendirHandle(ctx, flags) })
	return
}

func (n *squashNode) Readdir(ctx context.Context) (ds fs.DirStream, e syscall.Errno) {
	asCaller(ctx, func() { ds, e = n.LoopbackNode.Readdir(ctx) })
	return
}

// TestSquashedMountIsRootSquash checks the stand-in itself, with real processes of each uid:
// root is nobody on it, uid 1000 is itself, and what a caller may do is what the backing file
// system lets that uid do.
func TestSquashedMountIsRootSquash(t *testing.T) {
	needRoot(t)
	setpriv := need(t, "setpriv")
	backing, mnt := exportDir(t), exportDir(t)
	home := filepath.Join(backing, "ada")
	if err := os.MkdirAll(filepath.Join(home, "course"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, filepath.Join(home, "course")} {
		if err := os.Chown(p, 1000, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	mountSquashed(t, backing, mnt)
	as := func(uid int, script string) error {
		args := []string{"sh", "-c", script}
		if uid != 0 {
			args = append([]string{"--reuid", strconv.Itoa(uid), "--regid", "100", "--clear-groups"}, args...)
		} else {
			args = append([]string{"--reuid", "0", "--regid", "0", "--clear-groups"}, args...)
		}
		_, err := run(t, 20*time.Second, "", nil, setpriv, args...)
		return err
	}
	m := filepath.Join(mnt, "ada")
	checks := []struct {
		what string
		uid  int
		sh   string
		ok   bool
	}{
		{"root traverses a 0700 home", 0, "stat " + m + "/course", false},
		{"root lists a 0700 home", 0, "ls " + m, false},
		{"root writes a root-owned 0755 directory", 0, "touch " + mnt + "/by-root", false},
		{"uid 1000 lists its home", 1000, "ls " + m, true},
		{"uid 1000 writes its home", 1000, "echo hi >" + m + "/note", true},
	}
	for _, c := range checks {
		if err := as(c.uid, c.sh); (err == nil) != c.ok {
			t.Errorf("%s: allowed=%v, want %v", c.what, err == nil, c.ok)
		}
	}
	st, err := os.Stat(filepath.Join(home, "note"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != 1000 || st.Sys().(*syscall.Stat_t).Gid != 100 {
		t.Errorf("the note written by uid 1000 is not on the backing side as 1000:100: %v", err)
	}
	if err := os.Chmod(home, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := as(0, "stat "+m+"/course"); err != nil {
		t.Error("root cannot traverse a 0711 home")
	}
	if err := as(0, "ls "+m); err == nil {
		t.Error("root lists a 0711 home")
	}
}

// exportDir is a directory every uid may traverse (t.TempDir's are 0700), like an export's root.
func exportDir(t *testing.T) string {
	t.Helper()
	d := shortDir(t, "chrh-nfs-")
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}
