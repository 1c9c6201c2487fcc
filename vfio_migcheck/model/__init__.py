"""The model of the uAPI: spec loading, the graph (FlagModel) and the SMT encoding."""
