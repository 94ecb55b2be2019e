package adminui

import (
	"io/fs"
	"os"
	"testing"
)

// The binary holds dist/ exactly when it was built before the Go build.
func TestFSIsTheBuildWhenThereIsOne(t *testing.T) {
	_, err := os.Stat("dist/index.html")
	onDisk := err == nil
	if Built() != onDisk {
		t.Fatalf("Built() = %v, but dist/index.html on disk: %v", Built(), onDisk)
	}
	_, err = fs.Stat(FS(), "index.html")
	if (err == nil) != onDisk {
		t.Fatalf("FS() has index.html: %v, on disk: %v", err == nil, onDisk)
	}
	if _, err := fs.Stat(FS(), "README.md"); err == nil {
		t.Fatal("the placeholder's files are not part of the build")
	}
}
