//! A training step and an inference call allocate nothing after warm-up: a counting global
//! allocator proves it. (Its own test binary, its tests one at a time, so that nothing else
//! allocates while a test counts.)

use cnn::runtime::tensor::batch_flat;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use cnn::runtime::data::{Dataset, Mnist, Normalize};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::Adam;
use cnn::runtime::train::Trainer;
use cnn::zoo::{KerasLeNet5, LeNet5, LeNet5BatchNorm, Tf2Net};
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

/// Held by each test for its whole run: the counter is global.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Allocations made by `f`.
fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// One warm-up call of `M`'s single-sample and batch inference, then counts ten more of each.
fn inference_allocates_nothing<M: Model>() {
    let model = M::new(1);
    let mut ws = M::workspace();
    let xs = vec![cnn::runtime::tensor::zeroed::<M::Input>(); 4];
    let mut ys = vec![cnn::runtime::tensor::zeroed::<M::Output>(); 4];
    model.forward_with(&xs[0], &mut ys[0], &mut ws);
    model.forward_batch_with(&xs, &mut ys, &mut ws);
    let count = allocations_of(|| {
        for _ in 0..10 {
            model.forward_with(&xs[0], &mut ys[0], &mut ws);
            model.forward_batch_with(&xs, &mut ys, &mut ws);
        }
    });
    assert_eq!(count, 0, "{}: {count} allocations in 10 warm inference calls", M::NAME);
}

#[test]
fn an_inference_call_allocates_nothing_after_warm_up() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    inference_allocates_nothing::<LeNet5>();
    inference_allocates_nothing::<KerasLeNet5>();
    inference_allocates_nothing::<LeNet5BatchNorm>();
    // The TF2 network's activations need more stack than a test thread has.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(inference_allocates_nothing::<Tf2Net>)
        .expect("a thread")
        .join()
        .expect("no allocation in the TF2 network's inference");
}

#[test]
fn a_training_step_allocates_nothing_after_warm_up() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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
