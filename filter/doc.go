// Package filter decides which (image URL, caption) pairs are worth training on.
package filter
