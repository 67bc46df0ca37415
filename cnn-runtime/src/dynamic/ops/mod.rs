//! Forward and backward of each layer kind on ndarray batches (NCHW), one file per kind, and
//! [`layer`], which runs a layer of a plan through them.

pub(crate) mod activation;
pub(crate) mod batch;
pub(crate) mod batchnorm;
pub(crate) mod conv2d;
pub(crate) mod dense;
pub(crate) mod dropout;
pub(crate) mod layer;
pub(crate) mod pool;
#[cfg(test)]
pub(crate) mod test_util;
pub(crate) mod zeropad;
