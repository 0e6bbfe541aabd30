"""Every command line (`xraydesk predict|report|export|pacs|train|evaluate`), above the library it drives: each
module parses its arguments, runs xraydesk.pacs, report, training, dicom_results and ai, and answers with
the exit codes, progress bar and output-file rules of xraydesk.commands.common. No Qt."""
