package mutants

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tree is the source a run mutates: the working tree as it is, uncommitted
// changes and new (not ignored) files included, so that a checker being
// written is tested before it is committed. Rev says which: HEAD's commit,
// with "-dirty" when the tree differs from it.
type Tree struct {
	Root  string
	Rev   string
	Files []string // slash paths relative to Root
}

// OpenTree lists the files of the git working tree at root.
func OpenTree(root string) (*Tree, error) {
	out, err := git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	t := &Tree{Root: root}
	seen := map[string]bool{}
	for _, f := range strings.Split(strings.TrimRight(out, "\x00"), "\x00") {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		// A tracked file deleted in the working tree is gone from the copy too.
		if st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f))); err == nil && st.Mode().IsRegular() {
			t.Files = append(t.Files, f)
		}
	}
	rev, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	t.Rev = strings.TrimSpace(rev)
	if st, err := git(root, "status", "--porcelain"); err == nil && strings.TrimSpace(st) != "" {
		t.Rev += "-dirty"
	}
	return t, nil
}

// Copy writes the tree's files under dst, which must not exist yet. The copy
// has no .git, so nothing built there is stamped with the original's commit.
func (t *Tree) Copy(dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("scratch copy %s already exists", dst)
	}
	for _, f := range t.Files {
		if err := copyFile(filepath.Join(t.Root, filepath.FromSlash(f)), filepath.Join(dst, filepath.FromSlash(f))); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// FindRoot walks up from dir to the directory holding go.mod.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
