//! Fitting a poll-mode client into the host's own loop: a file descriptor that is
//! readable while events are queued (for epoll/select/kqueue, libuv, Qt socket
//! notifiers, or an engine's main loop), and a bounded drain so one frame caps its chat
//! work.

use std::ffi::c_int;
use std::time::Duration;

use super::args::{handle_arg, Out};
use super::client::dchat_client;
use super::event::dchat_event;
use super::status::{boundary, dchat_status, FfiError, FfiResult};
use crate::event::Event;

/// A file descriptor number.
pub(crate) type RawFd = c_int;

/// The signal behind `dchat_event_fd`: an eventfd on Linux, a non-blocking pipe on
/// other Unixes. Its owner (the poll queue, under its lock) sets it readable when the
/// queue stops being empty and drains it when the queue is empty again, so a loop that
/// waits on it wakes once per batch and never finds it readable with nothing to take.
pub(crate) struct EventFd {
    read: RawFd,
    write: RawFd,
    readable: bool,
}

impl EventFd {
    #[cfg(target_os = "linux")]
    pub(crate) fn new() -> std::io::Result<Self> {
        // SAFETY: plain system call; the descriptor is owned by the returned value.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(EventFd { read: fd, write: fd, readable: false })
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    pub(crate) fn new() -> std::io::Result<Self> {
        let mut fds: [RawFd; 2] = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = EventFd { read: fds[0], write: fds[1], readable: false };
        for raw in fds {
            // SAFETY: descriptors just made by pipe() and owned by `fd`.
            let ok = unsafe {
                libc::fcntl(raw, libc::F_SETFL, libc::fcntl(raw, libc::F_GETFL) | libc::O_NONBLOCK) >= 0
                    && libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) >= 0
            };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(fd)
    }

    #[cfg(not(unix))]
    pub(crate) fn new() -> std::io::Result<Self> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "no event file descriptor on this platform"))
    }

    /// The descriptor the host waits on.
    pub(crate) fn raw(&self) -> RawFd {
        self.read
    }

    /// Makes the descriptor readable (`queued`) or not, if it is not so already.
    pub(crate) fn set(&mut self, queued: bool) {
        if queued != self.readable {
            self.readable = queued;
            self.signal(queued);
        }
    }

    #[cfg(unix)]
    fn signal(&self, queued: bool) {
        if queued {
            // An eventfd takes an 8-byte counter increment; a pipe takes any byte.
            let one = 1u64.to_ne_bytes();
            let len = if self.read == self.write { one.len() } else { 1 };
            // SAFETY: writes from a live buffer to a descriptor this value owns. A full
            // pipe (EAGAIN) is readable anyway, which is all that matters.
            unsafe { libc::write(self.write, one.as_ptr().cast(), len) };
        } else {
            let mut buf = [0u8; 64];
            // SAFETY: reads into a live buffer from a descriptor this value owns; the
            // descriptor is non-blocking, so this stops at EAGAIN.
            while unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        }
    }

    #[cfg(not(unix))]
    fn signal(&self, _queued: bool) {}
}

impl Drop for EventFd {
    #[cfg(unix)]
    fn drop(&mut self) {
        // SAFETY: the descriptors are owned by this value and closed once.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
    }

    #[cfg(not(unix))]
    fn drop(&mut self) {}
}

fn poll_queue<'a>(c: &'a dchat_client, what: &str) -> FfiResult<&'a super::delivery::PollQueue> {
    c.deliverer.queue().ok_or_else(|| FfiError::new(dchat_status::DCHAT_ERR_WRONG_MODE, format!("{what} needs a client in poll mode")))
}

/// Poll mode: writes to `*fd_out` a file descriptor that is readable exactly while
/// events wait in the client's queue (an eventfd on Linux, a pipe elsewhere). Wait on it
/// with epoll/poll/select, libuv (`uv_poll_t`), a Qt `QSocketNotifier` or an engine's
/// loop, then take the events with `dchat_poll` / `dchat_poll_many` until the queue is
/// empty: the library resets the descriptor itself when the last queued event is taken
/// (level-triggered: a drain that stops early leaves it readable). Never read from, write
/// to or close it; it lives until `dchat_free`, and the same one is returned every time.
/// Once the final `CLOSED` event has been taken it stays unreadable. Returns
/// `DCHAT_ERR_WRONG_MODE` in callback mode, `DCHAT_ERR_INVALID_ARGUMENT` on platforms
/// without file descriptors.
#[no_mangle]
pub extern "C" fn dchat_event_fd(client: *const dchat_client, fd_out: *mut c_int) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        let out = Out::new(fd_out, "fd_out")?;
        let fd = poll_queue(c, "dchat_event_fd")?
            .event_fd()
            .map_err(|e| FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, format!("cannot make the event fd: {e}")))?;
        out.write(fd);
        Ok(())
    })
}

/// Poll mode: takes up to `max` events at once, in order, into `events_out[0..n)` and
/// writes `n` to `*count_out`; the caller frees each with `dchat_event_free`. Waits up
/// to `timeout_ms` for the first event (0: not at all, as a frame does; -1: forever),
/// never for the others, so a frame that calls it once caps its chat work at `max`
/// events and leaves the rest for the next frame. `DCHAT_OK` with `*count_out == 0`
/// when nothing came; `DCHAT_ERR_CLOSED` once the final `CLOSED` event has been taken
/// (by an earlier call); `DCHAT_ERR_WRONG_MODE` in callback mode; `max` 0 is
/// `DCHAT_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn dchat_poll_many(
    client: *const dchat_client,
    timeout_ms: i32,
    events_out: *mut *mut dchat_event,
    max: usize,
    count_out: *mut usize,
) -> dchat_status {
    boundary(|| {
        let c = handle_arg(client, "client")?;
        if events_out.is_null() {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_NULL_ARGUMENT, "`events_out` is NULL"));
        }
        let count = Out::new(count_out, "count_out")?;
        if max == 0 {
            return Err(FfiError::new(dchat_status::DCHAT_ERR_INVALID_ARGUMENT, "`max` must be at least 1"));
        }
        let queue = poll_queue(c, "dchat_poll_many")?;
        let flow = c.client.flow();
        let mut taken = Vec::new();
        if timeout_ms != 0 {
            let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
            match queue.pop(timeout, flow) {
                Ok(e) => taken.push(e),
                Err(e) if e.status == dchat_status::DCHAT_ERR_TIMEOUT => {}
                Err(e) => return Err(e),
            }
        }
        if !taken.last().is_some_and(Event::is_closed) && taken.len() < max {
            match queue.pop_many(max - taken.len(), flow) {
                Ok(more) => taken.extend(more),
                Err(e) if taken.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        let n = taken.len();
        for (i, e) in taken.into_iter().enumerate() {
            let ev = Box::into_raw(Box::new(dchat_event::new(e, c.chat.clone())));
            // SAFETY: the caller passes room for `max` pointers, and `n <= max`.
            unsafe { events_out.add(i).write(ev) };
        }
        count.write(n);
        Ok(())
    })
}
