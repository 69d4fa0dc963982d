package vfio

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/uiodrv/uiodrv/internal/unix"
)

// Group is an open /dev/vfio/N, the IOMMU group of one or more devices.
// Its methods are safe for concurrent use.
type Group struct {
	ID int

	mu        sync.Mutex
	fd        int // owned; -1 after Close
	path      string
	container *Container // set by SetContainer; not owned
	closed    bool
}

// GroupStatus is what VFIO_GROUP_GET_STATUS reports.
type GroupStatus struct {
	// Viable: every device of the group is bound to a VFIO driver (or to none).
	Viable bool
	// ContainerSet: the group has joined a container.
	ContainerSet bool
}

// OpenGroup opens /dev/vfio/<id>. It wraps ErrPermission, ErrGroupBusy, or
// ErrNotBound when the group file does not exist.
func OpenGroup(id int) (*Group, error) { return openGroup(DefaultDevDir, id) }

func openGroup(dir string, id int) (*Group, error) {
	path := dir + "/" + strconv.Itoa(id)
	fd, err := open(path, unix.O_RDWR)
	if err != nil {
		return nil, errOpenGroup(path, err)
	}
	return &Group{ID: id, fd: fd, path: path}, nil
}

func (g *Group) with(f func(fd int) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	return f(g.fd)
}

// Status returns the group's flags.
func (g *Group) Status() (GroupStatus, error) {
	var st GroupStatus
	err := g.with(func(fd int) error {
		s := groupStatus{Argsz: 8}
		if _, err := ioctlPtr(fd, ioctlGroupGetStatus, &s); err != nil {
			return fmt.Errorf("vfio: get status of group %s: %w", g.path, err)
		}
		st = GroupStatus{Viable: s.Flags&groupFlagsViable != 0, ContainerSet: s.Flags&groupFlagsContainerSet != 0}
		return nil
	})
	return st, err
}

// SetContainer makes the group join c. Check Status().Viable first: the
// kernel refuses a group that is not viable.
func (g *Group) SetContainer(c *Container) error {
	cfd := c.Fd()
	if cfd < 0 {
		return fmt.Errorf("vfio: set container of group %s: %w", g.path, ErrClosed)
	}
	return g.with(func(fd int) error {
		// The argument is a pointer to the container fd (an int32).
		arg := int32(cfd)
		if _, err := ioctlPtr(fd, ioctlGroupSetContainer, &arg); err != nil {
			return fmt.Errorf("vfio: set container of group %s: %w", g.path, err)
		}
		g.container = c
		return nil
	})
}

// UnsetContainer makes the group leave its container (Close does it too).
func (g *Group) UnsetContainer() error {
	return g.with(func(fd int) error {
		if _, err := ioctlVal(fd, ioctlGroupUnsetContainer, 0); err != nil {
			return fmt.Errorf("vfio: unset container of group %s: %w", g.path, err)
		}
		g.container = nil
		return nil
	})
}

// OpenDevice returns the device fd of name (a PCI address such as
// "0000:00:03.0"). The container's IOMMU must be set first.
func (g *Group) OpenDevice(name string) (*Device, error) {
	var dfd int
	var c *Container
	err := g.with(func(fd int) error {
		c = g.container
		var err error
		dfd, err = groupGetDeviceFD(fd, name)
		if err != nil {
			return fmt.Errorf("vfio: get device fd of %s from group %s: %w", name, g.path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newDevice(dfd, name, c)
}

// Close closes the group fd; the group leaves its container. Close
// devices first. It is idempotent.
func (g *Group) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	err := closeFD(g.fd)
	g.fd = -1
	if err != nil {
		return fmt.Errorf("vfio: close group %s: %w", g.path, err)
	}
	return nil
}
