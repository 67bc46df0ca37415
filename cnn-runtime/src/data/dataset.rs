//! Labelled images in memory as normalised `f32`, ready for training.
//!
//! A [`Dataset`] holds `len()` images of one shape `C × H × W` in one contiguous buffer (image after
//! image, each in CHW order: the layout of a model's `Input` such as `[[[f32; 28]; 28]; 1]`) and one
//! `u8` label per image. It can be padded, cut into training and validation parts, and read in
//! mini-batches in a seeded random order without allocating after the first batch.

use std::fmt;

use super::mnist::LabeledImages;
use super::DataError;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// How stored pixel bytes become `f32`: `(pixel · scale − mean) / std`.
///
/// The default is [`Normalize::UNIT`], `pixel / 255` in `[0, 1]`; [`Normalize::MNIST`] also
/// standardises with MNIST's training-set mean 0.1307 and standard deviation 0.3081.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalize {
    /// Multiplies the raw byte first (`1/255` maps bytes to `[0, 1]`).
    pub scale: f32,
    /// Subtracted after scaling.
    pub mean: f32,
    /// Divides last; must be positive.
    pub std: f32,
}

impl Normalize {
    /// `pixel / 255`, in `[0, 1]`.
    pub const UNIT: Normalize = Normalize { scale: 1.0 / 255.0, mean: 0.0, std: 1.0 };

    /// `(pixel / 255 − 0.1307) / 0.3081`: MNIST's training pixels get mean 0 and deviation 1.
    pub const MNIST: Normalize = Normalize { scale: 1.0 / 255.0, mean: 0.1307, std: 0.3081 };

    /// `(pixel / 255 − mean) / std`.
    pub fn mean_std(mean: f32, std: f32) -> Self {
        Normalize { mean, std, ..Normalize::UNIT }
    }

    /// The `f32` value of a stored byte.
    pub fn apply(&self, pixel: u8) -> f32 {
        (f32::from(pixel) * self.scale - self.mean) / self.std
    }

    fn check(&self) -> Result<(), DataError> {
        let finite = self.scale.is_finite() && self.mean.is_finite() && self.std.is_finite();
        if !finite || self.std <= 0.0 || !self.apply(255).is_finite() {
            return Err(DataError::invalid_argument(format!(
                "unusable normalisation {self:?}: scale and mean must be finite numbers and std a positive one (for \
                 MNIST use Normalize::UNIT or Normalize::MNIST)"
            )));
        }
        Ok(())
    }
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize::UNIT
    }
}

/// How much of a [`Dataset`] [`Dataset::split`] keeps for validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Holdout {
    /// This fraction of the images, in `[0, 1]`, rounded to the nearest count.
    Fraction(f64),
    /// Exactly this many images (at most all of them).
    Count(usize),
}

impl Holdout {
    /// The number of validation images out of `len`.
    pub fn count(self, len: usize) -> Result<usize, DataError> {
        match self {
            Holdout::Fraction(f) if (0.0..=1.0).contains(&f) => Ok(((len as f64) * f).round() as usize),
            Holdout::Fraction(f) => Err(DataError::invalid_argument(format!(
                "validation fraction {f} is not between 0 and 1: give e.g. Holdout::Fraction(0.1) for 10%"
            ))),
            Holdout::Count(n) if n <= len => Ok(n),
            Holdout::Count(n) => Err(DataError::invalid_argument(format!(
                "cannot hold out {n} validation images from a data set of {len}: give at most {len}"
            ))),
        }
    }
}

/// Labelled images of one shape as normalised `f32`, contiguous, image after image.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    images: Vec<f32>,
    labels: Vec<u8>,
    /// Channels, height, width of every image.
    shape: [usize; 3],
    /// The value of a background (zero) pixel after normalisation: what padding adds.
    background: f32,
}

impl Dataset {
    /// The images and labels of an MNIST set (see [`Mnist::train`](super::Mnist::train)), as
    /// `1 × rows × cols` images normalised by `normalize`.
    pub fn new(part: &LabeledImages, normalize: Normalize) -> Result<Dataset, DataError> {
        let images = part.images();
        Dataset::from_u8(images.pixels(), part.labels().to_vec(), [1, images.rows(), images.cols()], normalize)
    }

    /// Images of `shape` = `[channels, height, width]` from bytes (image after image, CHW),
    /// normalised by `normalize`, with one label per image.
    pub fn from_u8(pixels: &[u8], labels: Vec<u8>, shape: [usize; 3], normalize: Normalize) -> Result<Self, DataError> {
        normalize.check()?;
        check_layout(pixels.len(), labels.len(), shape)?;
        let table: [f32; 256] = std::array::from_fn(|b| normalize.apply(b as u8));
        let images = pixels.iter().map(|&p| table[usize::from(p)]).collect();
        Ok(Dataset { images, labels, shape, background: normalize.apply(0) })
    }

    /// Images of `shape` = `[channels, height, width]` already as `f32` (image after image, CHW),
    /// with one label per image. Padding adds zeros.
    pub fn from_f32(images: Vec<f32>, labels: Vec<u8>, shape: [usize; 3]) -> Result<Self, DataError> {
        check_layout(images.len(), labels.len(), shape)?;
        Ok(Dataset { images, labels, shape, background: 0.0 })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[channels, height, width]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Numbers per image: `channels · height · width`.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The value padding adds: a background (zero) pixel after normalisation.
    pub fn background(&self) -> f32 {
        self.background
    }

    /// Image `i`, CHW.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing; [`get`](Self::get) returns `None` instead.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// The label of image `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Image `i` and its label, or `None` if `i >= len()`.
    pub fn get(&self, i: usize) -> Option<(&[f32], u8)> {
        let label = *self.labels.get(i)?;
        Some((self.image(i), label))
    }

    /// All images, image after image.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The same images with `p` background pixels added on every side (`pad(2)` turns MNIST's
    /// 28x28 into the 32x32 of LeNet-5); the image stays centred.
    ///
    /// The border is [`background`](Self::background): zero for the default normalisation, and
    /// for others the value a zero byte normalises to, as if the bytes had been padded.
    pub fn pad(&self, p: usize) -> Result<Dataset, DataError> {
        let [c, h, w] = self.shape;
        let too_large = || DataError::invalid_argument(format!("padding {c}x{h}x{w} images by {p} is too large"));
        let grow = |s: usize| p.checked_mul(2).and_then(|p2| s.checked_add(p2)).ok_or_else(too_large);
        let (ph, pw) = (grow(h)?, grow(w)?);
        let padded_len =
            [c, ph, pw, self.len()].iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(too_large)?;
        let mut images = vec![self.background; padded_len];
        for (src, dst) in self.images.chunks_exact(w).zip(
            images
                .chunks_exact_mut(ph * pw)
                .flat_map(|plane| plane[p * pw..(p + h) * pw].chunks_exact_mut(pw))
                .map(|row| &mut row[p..p + w]),
        ) {
            dst.copy_from_slice(src);
        }
        Ok(Dataset { images, labels: self.labels.clone(), shape: [c, ph, pw], background: self.background })
    }

    /// The first `n` images (all of them if there are fewer): a small set for tests and quick runs.
    pub fn subset(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.image_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            shape: self.shape,
            background: self.background,
        }
    }

    /// The images at `indices`, in that order (repeats allowed).
    pub fn gather(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        check_indices(indices, self.len())?;
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        self.gather_into(indices, &mut images, &mut labels);
        Ok(Dataset { images, labels, shape: self.shape, background: self.background })
    }

    /// Splits into `(training, validation)`: the validation part is the **last** `holdout` images,
    /// the training part the ones before, both in their original order. Deterministic, no
    /// randomness; see [`split_shuffled`](Self::split_shuffled) for a random choice.
    pub fn split(mut self, holdout: Holdout) -> Result<(Dataset, Dataset), DataError> {
        let keep = self.len() - holdout.count(self.len())?;
        let n = self.image_len();
        let validation = Dataset {
            images: self.images.split_off(keep * n),
            labels: self.labels.split_off(keep),
            shape: self.shape,
            background: self.background,
        };
        Ok((self, validation))
    }

    /// Splits into `(training, validation)` with the validation images chosen at random: the
    /// positions are shuffled by [`shuffled_order`] with `Rng::new(seed)`, the last `holdout` of
    /// them form the validation part and the others the training part, each part then keeping
    /// the original order of its images. The same seed always gives the same split.
    pub fn split_shuffled(self, holdout: Holdout, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        let keep = self.len() - holdout.count(self.len())?;
        let mut order = shuffled_order(self.len(), &mut Rng::new(seed));
        let (train, validation) = order.split_at_mut(keep);
        train.sort_unstable();
        validation.sort_unstable();
        Ok((self.gather(train)?, self.gather(validation)?))
    }

    /// Fills `images` and `labels` with batch `k` of `order`: the images at
    /// `order[k · batch_size ..]`, at most `batch_size` of them (the last batch may be smaller), and
    /// returns how many. The buffers are cleared first and keep their capacity, so filling batch
    /// after batch allocates only on the first call. There are [`batch_count`]`(order.len(),
    /// batch_size)` batches.
    ///
    /// Fails, leaving the buffers untouched, if `batch_size` is 0, batch `k` does not exist, or the
    /// batch names an image beyond `len()`.
    pub fn batch_into(
        &self,
        order: &[usize],
        k: usize,
        batch_size: usize,
        images: &mut Vec<f32>,
        labels: &mut Vec<u8>,
    ) -> Result<usize, DataError> {
        let batches = batch_count(order.len(), batch_size);
        if batch_size == 0 || k >= batches {
            return Err(DataError::invalid_argument(format!(
                "no batch {k} of size {batch_size} in an order of {} images: batch_size must be at least 1 and k \
                 below batch_count(order.len(), batch_size) = {batches}",
                order.len()
            )));
        }
        let start = k * batch_size;
        let chosen = &order[start..order.len().min(start + batch_size)];
        check_indices(chosen, self.len())?;
        images.clear();
        labels.clear();
        images.reserve(chosen.len() * self.image_len());
        labels.reserve(chosen.len());
        self.gather_into(chosen, images, labels);
        Ok(chosen.len())
    }

    /// Checks that `T` (a model's `Input`, such as `[[[f32; 28]; 28]; 1]`) holds exactly one image.
    pub fn check_input<T: Tensor>(&self) -> Result<(), DataError> {
        self.check_input_len(T::LEN)
    }

    /// Checks that a model input of `len` numbers per sample holds exactly one image.
    pub fn check_input_len(&self, len: usize) -> Result<(), DataError> {
        if len == self.image_len() {
            return Ok(());
        }
        let [c, h, w] = self.shape;
        let mut msg = format!(
            "the model's input holds {len} numbers per sample but this data set's images are {c}x{h}x{w} = {}",
            self.image_len()
        );
        let padded = |p: usize| c.checked_mul(h.checked_add(2 * p)?)?.checked_mul(w.checked_add(2 * p)?);
        match (1..=64).find(|&p| padded(p) == Some(len)) {
            Some(p) => msg += &format!("; pad the data set with pad({p}) to make them {c}x{}x{}", h + 2 * p, w + 2 * p),
            None => msg += "; use a model whose input shape is the images' shape",
        }
        Err(DataError::invalid_argument(msg))
    }

    /// All images as a slice of model inputs `T`; fails unless `T` holds exactly one image.
    pub fn images_as<T: Tensor>(&self) -> Result<&[T], DataError> {
        self.check_input::<T>()?;
        batch_inputs(&self.images)
    }

    /// A batch filled by [`batch_into`](Self::batch_into) as a slice of model inputs `T`; fails
    /// unless `T` holds exactly one image of this data set and `images` whole images.
    pub fn batch_as<'b, T: Tensor>(&self, images: &'b [f32]) -> Result<&'b [T], DataError> {
        self.check_input::<T>()?;
        batch_inputs(images)
    }

    /// Appends the images and labels at `indices` (already checked to be in range).
    fn gather_into(&self, indices: &[usize], images: &mut Vec<f32>, labels: &mut Vec<u8>) {
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [c, h, w] = self.shape;
        write!(f, "Dataset {{ len: {}, shape: {c}x{h}x{w}, background: {} }}", self.len(), self.background)
    }
}

fn check_layout(values: usize, labels: usize, shape: [usize; 3]) -> Result<(), DataError> {
    let [c, h, w] = shape;
    let image_len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&n| n > 0);
    let Some(image_len) = image_len else {
        return Err(DataError::invalid_argument(format!(
            "image shape {c}x{h}x{w} (channels x height x width): every size must be at least 1 and their product \
             addressable"
        )));
    };
    if labels.checked_mul(image_len) != Some(values) {
        return Err(DataError::invalid_argument(format!(
            "{values} pixel values do not make {labels} images of {c}x{h}x{w} = {image_len}: give one label per image \
             and {image_len} values per image"
        )));
    }
    Ok(())
}

fn check_indices(indices: &[usize], len: usize) -> Result<(), DataError> {
    match indices.iter().find(|&&i| i >= len) {
        Some(i) => Err(DataError::invalid_argument(format!(
            "image index {i} is out of range for a data set of {len} images; build orders with \
             shuffled_order(dataset.len(), rng)"
        ))),
        None => Ok(()),
    }
}

/// Shuffles `items` in place (Fisher–Yates, drawing with [`Rng::below`]): the same generator
/// state always gives the same permutation, on every machine.
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// `0..n` in a random order drawn from `rng` (see [`shuffle`]); reshuffle it each epoch with
/// [`shuffle`] to avoid allocating.
pub fn shuffled_order(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, rng);
    order
}

/// Number of batches of at most `batch_size` in `n` items, the last one possibly partial
/// (`0` when `batch_size` is 0).
pub fn batch_count(n: usize, batch_size: usize) -> usize {
    n.checked_div(batch_size).map_or(0, |full| full + usize::from(!n.is_multiple_of(batch_size)))
}

/// `images` (whole samples, one after the other) seen as a slice of tensors `T`, without copying.
///
/// Fails if `T` is empty or `images.len()` is not a multiple of `T::LEN`. Prefer
/// [`Dataset::batch_as`], which also checks that `T` is the shape of the data set's images.
pub fn batch_inputs<T: Tensor>(images: &[f32]) -> Result<&[T], DataError> {
    if T::LEN == 0 || !images.len().is_multiple_of(T::LEN) {
        return Err(DataError::invalid_argument(format!(
            "{} values are not a whole number of model inputs of {} values each",
            images.len(),
            T::LEN
        )));
    }
    Ok(crate::tensor::batch_view(images))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::Images;

    /// `n` 1x3x2 images whose pixel values are `10·k + position`, labels `k % 10`.
    fn small(n: usize) -> Dataset {
        let pixels: Vec<u8> = (0..n).flat_map(|k| (0..6).map(move |p| (10 * k + p) as u8)).collect();
        Dataset::from_u8(
            &pixels,
            (0..n).map(|k| (k % 10) as u8).collect(),
            [1, 3, 2],
            Normalize { scale: 1.0, mean: 0.0, std: 1.0 },
        )
        .unwrap()
    }

    #[test]
    fn normalisation_is_applied() {
        let part = LabeledImages::new(Images::new(1, 2, vec![0, 255, 51, 0]).unwrap(), vec![3, 4]).unwrap();
        let d = Dataset::new(&part, Normalize::default()).unwrap();
        assert_eq!((d.len(), d.shape(), d.label(1)), (2, [1, 1, 2], 4));
        assert_eq!(d.image(0), &[0.0, 1.0]);
        assert!((d.image(1)[0] - 0.2).abs() < 1e-6);
        let d = Dataset::new(&part, Normalize::MNIST).unwrap();
        assert!((d.image(0)[0] + 0.1307 / 0.3081).abs() < 1e-6);
        assert_eq!(d.background(), d.image(0)[0]);
        let e = Dataset::new(&part, Normalize::mean_std(0.5, 0.0)).unwrap_err().to_string();
        assert!(e.contains("std a positive one"), "{e}");
    }

    #[test]
    fn layout_is_checked() {
        let e = Dataset::from_f32(vec![0.0; 10], vec![1, 2], [1, 2, 2]).unwrap_err().to_string();
        assert!(e.contains("10 pixel values do not make 2 images of 1x2x2 = 4"), "{e}");
        assert!(Dataset::from_f32(vec![], vec![], [1, 0, 2]).is_err());
        assert!(Images::new(2, 2, vec![0; 6]).is_err());
        assert!(LabeledImages::new(Images::new(1, 1, vec![0; 3]).unwrap(), vec![0; 2]).is_err());
    }

    #[test]
    fn padding_centres_the_image() {
        let d = small(2).pad(2).unwrap();
        assert_eq!(d.shape(), [1, 7, 6]);
        let img = d.image(1);
        assert_eq!(img[2 * 6 + 2..2 * 6 + 4], [10.0, 11.0]);
        assert_eq!(img[4 * 6 + 2..4 * 6 + 4], [14.0, 15.0]);
        assert_eq!(img.iter().sum::<f32>(), (10..16).sum::<i32>() as f32);
        assert_eq!(img.iter().filter(|&&v| v != 0.0).count(), 6);
        assert_eq!(small(2).pad(0).unwrap(), small(2));
        assert!(small(1).pad(usize::MAX / 2).is_err());
    }

    #[test]
    fn padding_with_standardised_values_adds_the_background() {
        let part = LabeledImages::new(Images::new(1, 1, vec![255]).unwrap(), vec![0]).unwrap();
        let d = Dataset::new(&part, Normalize::MNIST).unwrap().pad(1).unwrap();
        let bg = -0.1307 / 0.3081;
        assert!(d
            .image(0)
            .iter()
            .enumerate()
            .all(|(i, &v)| (v - if i == 4 { (1.0 - 0.1307) / 0.3081 } else { bg }).abs() < 1e-6));
    }

    #[test]
    fn split_keeps_the_last_part_for_validation() {
        let (t, v) = small(10).split(Holdout::Fraction(0.3)).unwrap();
        assert_eq!((t.len(), v.len()), (7, 3));
        assert_eq!(v.labels(), [7, 8, 9]);
        assert_eq!(v.image(0), small(10).image(7));
        let (t, v) = small(10).split(Holdout::Count(0)).unwrap();
        assert_eq!((t.len(), v.len()), (10, 0));
        assert!(small(10).split(Holdout::Count(11)).unwrap_err().to_string().contains("at most 10"));
        assert!(small(10).split(Holdout::Fraction(1.5)).is_err());
        assert!(small(10).split(Holdout::Fraction(f64::NAN)).is_err());
    }

    #[test]
    fn shuffled_split_is_seeded_and_partitions() {
        let (t, v) = small(25).split_shuffled(Holdout::Count(5), 3).unwrap();
        let (t2, v2) = small(25).split_shuffled(Holdout::Count(5), 3).unwrap();
        assert_eq!((&t, &v), (&t2, &v2));
        assert_ne!(v, small(25).split_shuffled(Holdout::Count(5), 4).unwrap().1);
        assert_ne!(v, small(25).split(Holdout::Count(5)).unwrap().1);
        // Pixel 0 of image k is 10k: recover which images went where.
        let ids = |d: &Dataset| (0..d.len()).map(|i| d.image(i)[0] as usize / 10).collect::<Vec<_>>();
        assert_eq!((t.len(), v.len()), (20, 5));
        assert!(ids(&t).windows(2).all(|w| w[0] < w[1]) && ids(&v).windows(2).all(|w| w[0] < w[1]));
        let mut all = [ids(&t), ids(&v)].concat();
        all.sort();
        assert_eq!(all, (0..25).collect::<Vec<_>>());
        assert!((0..20).all(|i| t.label(i) as usize == ids(&t)[i] % 10));
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = shuffled_order(100, &mut Rng::new(9));
        assert_eq!(a, shuffled_order(100, &mut Rng::new(9)));
        assert_ne!(a, shuffled_order(100, &mut Rng::new(10)));
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert!(shuffled_order(0, &mut Rng::new(1)).is_empty());
        assert_eq!(shuffled_order(1, &mut Rng::new(1)), [0]);
    }

    #[test]
    fn batches_cover_the_order_keep_the_last_partial_batch_and_reuse_buffers() {
        let d = small(10);
        let order = shuffled_order(10, &mut Rng::new(5));
        assert_eq!(batch_count(10, 4), 3);
        assert_eq!(batch_count(8, 4), 2);
        assert_eq!(batch_count(0, 4), 0);
        assert_eq!(batch_count(5, 0), 0);
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        let mut seen = Vec::new();
        let mut capacity = None;
        for k in 0..3 {
            let n = d.batch_into(&order, k, 4, &mut images, &mut labels).unwrap();
            assert_eq!(n, if k < 2 { 4 } else { 2 });
            assert_eq!((images.len(), labels.len()), (n * 6, n));
            for j in 0..n {
                let i = order[4 * k + j];
                assert_eq!(&images[j * 6..(j + 1) * 6], d.image(i));
                assert_eq!(labels[j], d.label(i));
                seen.push(i);
            }
            let ptr = (images.as_ptr(), images.capacity(), labels.as_ptr());
            assert_eq!(*capacity.get_or_insert(ptr), ptr, "batch {k} reallocated");
        }
        assert_eq!(seen, order);
        let e = d.batch_into(&order, 3, 4, &mut images, &mut labels).unwrap_err().to_string();
        assert!(e.contains("no batch 3 of size 4") && e.contains("= 3"), "{e}");
        assert!(d.batch_into(&order, 0, 0, &mut images, &mut labels).is_err());
        let e = d.batch_into(&[3, 10], 0, 4, &mut images, &mut labels).unwrap_err().to_string();
        assert!(e.contains("image index 10 is out of range"), "{e}");
        assert_eq!(labels.len(), 2, "buffers untouched on error");
    }

    #[test]
    fn subset_and_gather() {
        let d = small(10);
        assert_eq!(d.subset(3).labels(), [0, 1, 2]);
        assert_eq!(d.subset(30).len(), 10);
        let g = d.gather(&[9, 0, 9]).unwrap();
        assert_eq!(g.labels(), [9, 0, 9]);
        assert_eq!(g.image(2), d.image(9));
        assert!(d.gather(&[10]).is_err());
        assert_eq!(d.get(10), None);
        assert_eq!(d.get(1).unwrap().1, 1);
    }

    #[test]
    fn typed_views_check_the_shape() {
        let d = small(4);
        let all: &[[[[f32; 2]; 3]; 1]] = d.images_as().unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[2][0][1], [22.0, 23.0]);
        let flat: &[[f32; 6]] = batch_inputs(d.images()).unwrap();
        assert_eq!(flat[3][5], 35.0);
        assert!(batch_inputs::<[f32; 5]>(d.images()).is_err());
        assert!(batch_inputs::<[f32; 0]>(d.images()).is_err());
        // 4 images of 6 values are also 3 of 8: the data set's shape is what catches it.
        let e = d.images_as::<[f32; 8]>().unwrap_err().to_string();
        assert!(e.contains("holds 8 numbers per sample but this data set's images are 1x3x2 = 6"), "{e}");
        let e = d.batch_as::<[[[f32; 6]; 7]; 1]>(d.images()).unwrap_err().to_string();
        assert!(e.contains("pad(2)"), "{e}");
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        d.batch_into(&[3, 1], 0, 2, &mut images, &mut labels).unwrap();
        let batch: &[[[[f32; 2]; 3]; 1]] = d.batch_as(&images).unwrap();
        assert_eq!(batch[1][0][2], [14.0, 15.0]);
    }
}
