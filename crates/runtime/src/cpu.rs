//! Worker CPU pinning.
//!
//! A worker that the scheduler moves or shares with another thread stalls in the middle of a
//! burst, holding its epoch pin (which holds back every table writer's reclamation) and its
//! queues. `burst run` therefore gives each worker a CPU of its own: `[eal] cpus`, or by
//! default the last CPUs the process may use (the first one stays for the EAL's main thread
//! and the control thread). Affinity is set explicitly on every thread, because threads
//! inherit it and the EAL pins the main thread to its main lcore.

use std::io;

/// The CPUs the calling thread may run on, ascending (read it before the EAL pins the main
/// thread).
pub fn allowed() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, core::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE and `set` is a valid cpu_set_t.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Restricts the calling thread to `cpus`.
pub fn pin_current(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    for &c in cpus {
        if c >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CPU {c} is beyond CPU_SETSIZE"),
            ));
        }
        // SAFETY: `c` is below CPU_SETSIZE (checked) and `set` is a valid cpu_set_t.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, core::mem::size_of_val(&set), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Where each thread runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Worker `i` runs on `workers[i]` alone (`None`: not pinned).
    pub workers: Vec<Option<usize>>,
    /// The control thread (and the main thread) run on these: the allowed CPUs no worker
    /// has, or all of them when workers took every one.
    pub others: Vec<usize>,
}

/// The placement for `workers` workers: `cpus` as configured (`None` = automatic, empty = no
/// pinning), within the `allowed` CPUs. Errors name the CPU that is not allowed.
pub fn place(
    cpus: Option<&[usize]>,
    workers: usize,
    allowed: &[usize],
) -> Result<Placement, String> {
    let chosen: Vec<usize> = match cpus {
        Some([]) => Vec::new(),
        Some(list) => {
            if let Some(c) = list.iter().find(|c| !allowed.contains(c)) {
                return Err(format!(
                    "eal.cpus: CPU {c} is not one this process may run on ({}): pick from \
                     those, or check taskset/cgroups",
                    list_text(allowed)
                ));
            }
            list[..workers.min(list.len())].to_vec()
        }
        // Automatic: the last CPUs, leaving the first to the main and control threads when
        // there are more CPUs than workers; no pinning when there are fewer.
        None if allowed.len() >= workers => allowed[allowed.len() - workers..].to_vec(),
        None => Vec::new(),
    };
    let rest: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|c| !chosen.contains(c))
        .collect();
    Ok(Placement {
        workers: (0..workers).map(|i| chosen.get(i).copied()).collect(),
        others: if rest.is_empty() {
            allowed.to_vec()
        } else {
            rest
        },
    })
}

impl Placement {
    /// The placement with the other threads on `control` (`[eal] control_cpus`) instead of the
    /// CPUs no worker has; `None` keeps them. Errors name a CPU that is not allowed.
    pub fn with_control(
        mut self,
        control: Option<&[usize]>,
        allowed: &[usize],
    ) -> Result<Self, String> {
        if let Some(list) = control {
            if let Some(c) = list.iter().find(|c| !allowed.contains(c)) {
                return Err(format!(
                    "eal.control_cpus: CPU {c} is not one this process may run on ({}): pick \
                     from those, or check taskset/cgroups",
                    list_text(allowed)
                ));
            }
            self.others = list.to_vec();
        }
        Ok(self)
    }
}

/// "0-3,6" style text for a CPU list.
pub fn list_text(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_placement_leaves_the_first_cpu_to_the_control_thread() {
        let p = place(None, 2, &[0, 1, 2, 3]).unwrap();
        assert_eq!(p.workers, [Some(2), Some(3)]);
        assert_eq!(p.others, [0, 1]);
        // As many CPUs as workers: all pinned, the rest floats over all of them.
        let p = place(None, 2, &[0, 1]).unwrap();
        assert_eq!(p.workers, [Some(0), Some(1)]);
        assert_eq!(p.others, [0, 1]);
        // Fewer CPUs than workers: nobody is pinned.
        let p = place(None, 3, &[0, 1]).unwrap();
        assert_eq!(p.workers, [None, None, None]);
    }

    #[test]
    fn configured_placement_and_its_errors() {
        let p = place(Some(&[3, 1]), 2, &[0, 1, 2, 3]).unwrap();
        assert_eq!(p.workers, [Some(3), Some(1)]);
        assert_eq!(p.others, [0, 2]);
        let p = place(Some(&[]), 2, &[0, 1, 2, 3]).unwrap();
        assert_eq!(p.workers, [None, None]);
        assert_eq!(p.others, [0, 1, 2, 3]);
        let e = place(Some(&[1, 7]), 2, &[0, 1, 2, 3]).unwrap_err();
        assert!(e.contains("CPU 7") && e.contains("(0-3)"), "{e}");
        assert_eq!(list_text(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    #[test]
    fn control_cpus_move_the_other_threads() {
        // Two processes on two CPUs, each with one worker: the generator's worker on CPU 1
        // keeps its housekeeping there too, off the DUT's worker on CPU 0.
        let p = place(Some(&[1]), 1, &[0, 1]).unwrap();
        assert_eq!(p.others, [0]);
        let p = p.with_control(Some(&[1]), &[0, 1]).unwrap();
        assert_eq!(
            (p.workers.as_slice(), p.others.as_slice()),
            (&[Some(1)][..], &[1][..])
        );
        let p = place(None, 1, &[0, 1])
            .unwrap()
            .with_control(None, &[0, 1])
            .unwrap();
        assert_eq!(p.others, [0]);
        let e = place(None, 1, &[0, 1])
            .unwrap()
            .with_control(Some(&[4]), &[0, 1])
            .unwrap_err();
        assert!(e.contains("control_cpus") && e.contains("CPU 4"), "{e}");
        // On this machine: the other threads pinned where control_cpus says, not elsewhere.
        let allowed = allowed();
        let last = *allowed.last().unwrap();
        let p = place(Some(&[]), 1, &allowed)
            .unwrap()
            .with_control(Some(&[last]), &allowed)
            .unwrap();
        std::thread::spawn(move || {
            pin_current(&p.others).unwrap();
            assert_eq!(super::allowed(), [last]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn pinning_the_current_thread_takes_effect() {
        let allowed = allowed();
        assert!(!allowed.is_empty());
        let last = *allowed.last().unwrap();
        std::thread::spawn(move || {
            pin_current(&[last]).unwrap();
            assert_eq!(super::allowed(), [last]);
        })
        .join()
        .unwrap();
        assert!(pin_current(&[usize::MAX]).is_err());
    }
}
