"""The lab's Terraform, seen from Python: its specifications (:mod:`soa_sdk.tf.lab_spec`), the
runtime template (:mod:`soa_sdk.tf.template`) and the offline checks
(:mod:`soa_sdk.tf.checks`). Importing this package loads none of them."""
