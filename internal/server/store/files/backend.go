package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hush-secrets/hush/internal/secrets"
)

// Backend serves the files scopes under one root directory, with the
// context-taking method set the server expects (server.FilesBackend).
type Backend struct {
	root string
}

// NewBackend returns a Backend for root, which must be an existing directory.
func NewBackend(root string) (*Backend, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("files root %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("files root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("files root %s is not a directory", abs)
	}
	return &Backend{root: abs}, nil
}

// Root returns the absolute path of the files root.
func (b *Backend) Root() string { return b.root }

// List is List(root, rel), after checking ctx.
func (b *Backend) List(ctx context.Context, rel string) ([]secrets.SecretMeta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return List(b.root, rel)
}

// Read is Read(root, rel, key), after checking ctx.
func (b *Backend) Read(ctx context.Context, rel, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return Read(b.root, rel, key)
}
