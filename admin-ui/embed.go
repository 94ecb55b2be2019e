// Package adminui holds the dashboard's Vite build (dist/, made by `make ui`)
// embedded in the nexmdm binary. ingress serves it on the API's port.
package adminui

import (
	"embed"
	"io/fs"
)

// files is dist/ when it was built, and always dist-placeholder/: a pattern
// must match at least one file, dist/ is git-ignored, and `go build ./...`
// works on a clean clone. all: keeps files named _* or .*, which Rollup may
// emit.
//
//go:embed all:dist*
var files embed.FS

// FS is the build's files: index.html at the root, hashed files under
// assets/. Without a build it holds no index.html, and the server shows a
// page that says how to build the dashboard.
func FS() fs.FS {
	sub, err := fs.Sub(files, "dist")
	if err != nil { // only for an invalid name
		panic(err)
	}
	return sub
}

// Built tells whether the binary holds a build of the dashboard.
func Built() bool {
	_, err := fs.Stat(files, "dist/index.html")
	return err == nil
}
