"""Conformance: the model's predictions held against a real kernel driver (docs/conformance.md).

``scenarios`` generates canonical scenarios and, through ``predict``, the model's allowed
outcomes for every call; the lab (``lab/``) runs them on Linux 6.12's mtty driver;
``serial`` and ``corpus`` bring the results home; ``compare`` and ``report`` judge them call by
call against the predictions and the known driver ``deviations``; ``strace_check`` holds the
checker's verdicts on the strace captures against the decoded ground truth.
"""
