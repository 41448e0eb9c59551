//! Finding raw takes and placing them in their course.
