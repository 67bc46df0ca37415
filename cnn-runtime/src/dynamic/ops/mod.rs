//! Forward and backward of each layer kind on ndarray batches (NCHW).
