//! Ctrl-C: the first press asks the running search to stop cleanly (it then prints its partial
//! report, `complete: false`, exit 1); a second press exits at once (status 130).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Option<Arc<AtomicBool>>> = OnceLock::new();

/// The stop flag a search should watch, cleared for a new search. `None` where no handler
/// could be installed (the search then simply cannot be interrupted cleanly).
pub fn stop_flag() -> Option<Arc<AtomicBool>> {
    let flag = FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing with a partial report (Ctrl-C again to quit now)");
        })
        .ok()
        .map(|()| flag)
    });
    if let Some(f) = flag {
        f.store(false, Ordering::SeqCst);
    }
    flag.clone()
}
