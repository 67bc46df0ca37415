//! A training step allocates nothing after warm-up: a counting global allocator proves it. (Its own
//! test binary, so that no other test allocates while it counts.)

use cnn::runtime::tensor::batch_flat;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use cnn::runtime::data::{Dataset, Mnist, Normalize};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::Adam;
use cnn::runtime::train::Trainer;
use cnn::zoo::LeNet5;
use cnn::Model;

/// Counts allocations, to prove the training step allocates nothing once warm.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_training_step_allocates_nothing_after_warm_up() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    let mnist = Mnist::load(&dir).unwrap_or_else(|e| panic!("the tests read MNIST from ../shared/data/mnist: {e}"));
    let train = Dataset::new(mnist.train(), Normalize::UNIT).unwrap().subset(64 * 6);
    let xs = train.images_as::<<LeNet5 as Model>::Input>().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| {
        let mut model = LeNet5::new(0);
        let mut trainer = Trainer::new(&model, 2, 0);
        let mut optimizer = Adam::new(1e-3);
        let mut step = |k: usize, model: &mut LeNet5| {
            let batch = 64 * k..64 * (k + 1);
            trainer
                .step(model, batch_flat(&xs[batch.clone()]), &train.labels()[batch], Loss::CrossEntropy, &mut optimizer)
                .unwrap();
        };
        step(0, &mut model); // warm-up: buffers and optimizer state are allocated here
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for k in 1..6 {
            step(k, &mut model);
        }
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        assert_eq!(after - before, 0, "{} allocations in 5 warm training steps", after - before);
    });
}
