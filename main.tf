# The whole carbon-aware compute system. One apply deploys the control plane in the home Region
# (tables, functions, API, schedules, control event bus, dashboard) and a regional stack in every
# Region of var.regions, using the AWS provider 6 per-resource `region` argument.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  home_region = coalesce(var.home_region, var.regions[0])
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id

  lambda_zip         = coalesce(var.lambda_zip_path, "${path.module}/dist/carbon-aware-lambda-${var.architecture}.zip")
  lambda_source_hash = fileexists(local.lambda_zip) ? filebase64sha256(local.lambda_zip) : null

  metrics_namespace = "CarbonAware"
  alarm_actions     = compact([var.alarm_topic_arn != null ? var.alarm_topic_arn : try(aws_sns_topic.alarms[0].arn, "")])
}
