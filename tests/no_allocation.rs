//! A training step and inference (one sample, a batch, `infer` on a pool) allocate nothing after
//! warm-up: a counting global allocator proves it. It counts only on the threads a test enrols
//! (its own and its rayon workers), so the test harness and the other tests do not disturb the
//! count.

use cnn::runtime::tensor::{batch_flat, batch_flat_mut, zeroed};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use cnn::runtime::data::{Dataset, Mnist, Normalize};
use cnn::runtime::loss::Loss;
use cnn::runtime::optim::Adam;
use cnn::runtime::train::{infer, Trainer};
use cnn::zoo::{KerasLeNet5, KerasLeNetExercise, LeNet5, LeNet5BatchNorm, Tf2Net};
use cnn::{Model, Trainable};

/// Counts allocations made on enrolled threads.
struct Counting;

/// Allocations on the threads of the training test.
static TRAINING: AtomicUsize = AtomicUsize::new(0);
/// Allocations on the thread of the inference test.
static INFERENCE: AtomicUsize = AtomicUsize::new(0);
/// Allocations on the threads of the `infer` test's pool.
static INFER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The counter of this thread's allocations, if any (a const initialiser: reading it never
    /// allocates).
    static COUNTER: Cell<Option<&'static AtomicUsize>> = const { Cell::new(None) };
}

/// Counts the allocations of the calling thread in `counter` from now on.
fn enrol(counter: &'static AtomicUsize) {
    COUNTER.with(|c| c.set(Some(counter)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Ok(Some(counter)) = COUNTER.try_with(Cell::get) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
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

/// Allocations counted in `counter` while `f` runs.
fn allocations_of(counter: &AtomicUsize, f: impl FnOnce()) -> usize {
    let before = counter.load(Ordering::SeqCst);
    f();
    counter.load(Ordering::SeqCst) - before
}

/// Samples of the batches inference is checked on: one, a block, and several blocks and a part.
const BATCHES: [usize; 3] = [1, 64, 300];

/// One warm-up call of `M`'s single-sample and batch inference (on each of [`BATCHES`]), then
/// counts three more rounds of each.
fn inference_allocates_nothing<M: Model>() {
    enrol(&INFERENCE);
    let model = M::new(1);
    let mut ws = M::workspace();
    let xs: Vec<M::Input> = std::iter::repeat_n(zeroed(), 300).collect();
    let mut ys: Vec<M::Output> = std::iter::repeat_n(zeroed(), 300).collect();
    let mut round = || {
        model.forward_with(&xs[0], &mut ys[0], &mut ws);
        for n in BATCHES {
            model.forward_batch_with(&xs[..n], &mut ys[..n], &mut ws);
        }
    };
    round();
    let count = allocations_of(&INFERENCE, || (0..3).for_each(|_| round()));
    assert_eq!(count, 0, "{}: {count} allocations in 3 rounds of warm inference calls", M::NAME);
}

#[test]
fn an_inference_call_allocates_nothing_after_warm_up() {
    inference_allocates_nothing::<LeNet5>();
    inference_allocates_nothing::<KerasLeNet5>();
    inference_allocates_nothing::<KerasLeNetExercise>();
    inference_allocates_nothing::<LeNet5BatchNorm>();
    // The TF2 network's activations need more stack than a test thread has.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(inference_allocates_nothing::<Tf2Net>)
        .expect("a thread")
        .join()
        .expect("no allocation in the TF2 network's inference");
}

/// `infer` of `M` on [`BATCHES`] in `pool`, after every thread of the pool has its workspace and
/// one warm-up round: three more rounds allocate nothing.
fn infer_allocates_nothing<M: Model>(pool: &rayon::ThreadPool) {
    let model = M::new(1);
    let xs: Vec<M::Input> = std::iter::repeat_n(zeroed(), 300).collect();
    let mut ys: Vec<M::Output> = std::iter::repeat_n(zeroed(), 300).collect();
    // Which threads a call's chunks run on varies: warm every thread's workspace up, not just some.
    pool.broadcast(|_| model.with_scratch(|_| ()));
    let mut round = || {
        for n in BATCHES {
            infer(&model, batch_flat(&xs[..n]), batch_flat_mut(&mut ys[..n]));
        }
    };
    pool.install(&mut round);
    let count = allocations_of(&INFER, || pool.install(|| (0..3).for_each(|_| round())));
    assert_eq!(count, 0, "{}: {count} allocations in 3 rounds of warm infer calls", M::NAME);
}

#[test]
fn infer_allocates_nothing_after_warm_up() {
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(2).stack_size(16 << 20).start_handler(|_| enrol(&INFER)).build();
    let pool = pool.unwrap();
    infer_allocates_nothing::<LeNet5>(&pool);
    infer_allocates_nothing::<KerasLeNet5>(&pool);
    infer_allocates_nothing::<KerasLeNetExercise>(&pool);
    infer_allocates_nothing::<LeNet5BatchNorm>(&pool);
    infer_allocates_nothing::<Tf2Net>(&pool);
}

#[test]
fn a_training_step_allocates_nothing_after_warm_up() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    let mnist = Mnist::load(&dir).unwrap_or_else(|e| panic!("the tests read MNIST from ../shared/data/mnist: {e}"));
    let train = Dataset::new(mnist.train(), Normalize::UNIT).unwrap().subset(64 * 6);
    let xs = train.images_as::<<LeNet5 as Model>::Input>().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).start_handler(|_| enrol(&TRAINING)).build().unwrap();
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
        let before = TRAINING.load(Ordering::SeqCst);
        for k in 1..6 {
            step(k, &mut model);
        }
        let after = TRAINING.load(Ordering::SeqCst);
        assert_eq!(after - before, 0, "{} allocations in 5 warm training steps", after - before);
    });
}
