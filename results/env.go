package results

// ToolVersion is this build's version, recorded in every run.
const ToolVersion = "0.1.0"
