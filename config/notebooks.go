package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/camphub/camphub/provision"
)

// notebooks reads the students' servers: the image and the memory and CPU limits and guarantees.
func (l *loader) notebooks(c *Config) {
	switch {
	case c.NotebookImage == "":
		l.fail("notebookImage", "must name a notebook image with a pinned tag, e.g. quay.io/jupyter/scipy-notebook:2025-12-31")
	case strings.Contains(c.NotebookImage, "://"):
		l.fail("notebookImage", "%q has a URL scheme, which image references never have; write it without: %s", c.NotebookImage, c.NotebookImage[strings.Index(c.NotebookImage, "://")+3:])
	case !imageRe.MatchString(c.NotebookImage) && imageRe.MatchString(lowerRepository(c.NotebookImage)):
		l.fail("notebookImage", "%q has capitals in its name, which image names never have; write it as %s", c.NotebookImage, lowerRepository(c.NotebookImage))
	case !imageRe.MatchString(c.NotebookImage):
		l.fail("notebookImage", "%q is not an image reference; write it as REGISTRY/NAME:TAG, such as quay.io/jupyter/scipy-notebook:2025-12-31", c.NotebookImage)
	case !imageHasTag(c.NotebookImage):
		l.fail("notebookImage", "%q has no tag; pin a dated tag (e.g. :2025-12-31) so every worker runs the same image", c.NotebookImage)
	case strings.HasSuffix(c.NotebookImage, ":latest"):
		l.fail("notebookImage", "%q uses :latest; pin a dated tag so every worker runs the same image", c.NotebookImage)
	}

	var limit, guarantee int64
	c.StudentMemLimit, limit = l.byteSize("studentMemLimit")
	c.StudentMemGuarantee, guarantee = l.byteSize("studentMemGuarantee")
	c.StudentMemGuaranteeBytes, c.StudentMemLimitBytes = guarantee, limit
	if limit > 0 && guarantee > limit {
		l.fail("studentMemGuarantee", "%s is more than camphub:studentMemLimit %s; lower the guarantee to the limit or less (or raise the limit)", c.StudentMemGuarantee, c.StudentMemLimit)
	}
	if c.StudentCPULimit > 0 && c.StudentCPUGuarantee > c.StudentCPULimit {
		l.fail("studentCpuGuarantee", "%g is more than camphub:studentCpuLimit %g; lower the guarantee to the limit or less (or raise the limit)", c.StudentCPUGuarantee, c.StudentCPULimit)
	}

}

// imageHasTag reports whether an image reference names a tag or digest (a registry port is no tag).
func imageHasTag(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	return strings.Contains(last, ":")
}

// courseDir checks camphub:courseDir and returns its content's digest.
func (l *loader) courseDir(path string) string {
	const key = "courseDir"
	clean := filepath.Clean(path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
		l.fail(key, "%q must be a folder inside the repository (relative to Pulumi.yaml), such as course", path)
		return ""
	}
	if st, err := os.Stat(clean); err != nil || !st.IsDir() {
		l.fail(key, "%q is not a folder in the repository; create it with the course material or clear the setting", path)
		return ""
	}
	d, err := provision.CourseDigest(clean)
	if err != nil {
		l.fail(key, "%v", err)
	}
	return d
}

// lowerRepository is an image reference with its name (not its tag or digest) in lower case.
func lowerRepository(ref string) string {
	name, rest := ref, ""
	if i := strings.IndexAny(ref[strings.LastIndexByte(ref, '/')+1:], ":@"); i >= 0 {
		i += strings.LastIndexByte(ref, '/') + 1
		name, rest = ref[:i], ref[i:]
	}
	return strings.ToLower(name) + rest
}
