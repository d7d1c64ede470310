public enum SideServicesPlaceholder {}
