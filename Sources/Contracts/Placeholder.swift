public enum ContractsPlaceholder {}
