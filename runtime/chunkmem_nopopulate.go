//go:build unix && !linux

package runtime

import "errors"

// populate is Linux's; elsewhere touch writes to each page.
func populate([]byte) error { return errors.ErrUnsupported }
