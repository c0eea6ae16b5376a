package runtime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// populate faults b's pages in for writing in one call (Linux 5.14);
// errors.ErrUnsupported on an older kernel (EINVAL). Any other error
// (ENOMEM, EFAULT: no memory for them, within a cgroup's limit or not)
// is the caller's to report: writing to each page instead would bring
// the OOM killer.
func populate(b []byte) error {
	err := unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	if errors.Is(err, unix.EINVAL) {
		return errors.ErrUnsupported
	}
	return err
}
