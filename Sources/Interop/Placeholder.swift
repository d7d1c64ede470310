public enum InteropPlaceholder {}
