//! Foundation of the fjord application controller.
