// Command gen writes pipa's OpenAPI documents (package apidoc) into a directory, and removes the
// documents there it no longer writes: `make generate` runs it after protoc-gen-openapiv2.
//
//	go run ./internal/apidoc/gen -protoc ../../pkg/gen/openapi/protoc -out ../../pkg/gen/openapi
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/pipa-kr/pipa/services/pipa/internal/apidoc"
	"github.com/pipa-kr/pipa/services/pipa/internal/bundle"
)

func main() {
	protoc := flag.String("protoc", "", "directory of protoc-gen-openapiv2's {service}.swagger.json")
	out := flag.String("out", "", "directory to write the documents to")
	flag.Parse()
	files, err := apidoc.Build(bundle.Modules, os.DirFS(*protoc))
	if err != nil {
		log.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(*out, "*.json"))
	for _, path := range old {
		if _, ok := files[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				log.Fatal(err)
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
