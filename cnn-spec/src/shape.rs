use core::fmt;

/// The shape of one sample as it flows between layers (the batch dimension is never part of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// An image of `c` channels of `h` rows and `w` columns, stored CHW; written `C@HxW`.
    Image {
        /// Channels.
        c: usize,
        /// Rows.
        h: usize,
        /// Columns.
        w: usize,
    },
    /// A flat vector of `n` features; written `N`.
    Flat {
        /// Features.
        n: usize,
    },
}

impl Shape {
    /// `C@HxW`.
    pub const fn image(c: usize, h: usize, w: usize) -> Self {
        Shape::Image { c, h, w }
    }

    /// A vector of `n` features.
    pub const fn flat(n: usize) -> Self {
        Shape::Flat { n }
    }

    /// Number of `f32` elements, or `None` if it overflows `usize`.
    pub const fn checked_len(&self) -> Option<usize> {
        match *self {
            Shape::Image { c, h, w } => match c.checked_mul(h) {
                Some(ch) => ch.checked_mul(w),
                None => None,
            },
            Shape::Flat { n } => Some(n),
        }
    }

    /// Number of `f32` elements. Shapes that come out of a checked [`crate::Network`] never overflow.
    pub const fn len(&self) -> usize {
        match self.checked_len() {
            Some(n) => n,
            None => usize::MAX,
        }
    }

    /// True when the shape holds no element (only possible in a shape that failed its checks).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of an image, features of a flat vector: the axis BatchNorm normalises.
    pub const fn channels(&self) -> usize {
        match *self {
            Shape::Image { c, .. } => c,
            Shape::Flat { n } => n,
        }
    }

    /// Elements per channel: `h * w` for an image, 1 for a flat vector.
    pub const fn spatial(&self) -> usize {
        match *self {
            Shape::Image { h, w, .. } => h * w,
            Shape::Flat { .. } => 1,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Image { c, h, w } => write!(f, "{c}@{h}x{w}"),
            Shape::Flat { n } => write!(f, "{n}"),
        }
    }
}
