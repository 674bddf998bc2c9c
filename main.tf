# The whole carbon-aware compute system. One apply deploys the control plane in the home Region
# (tables, functions, API, schedules, control event bus, dashboard) and a regional stack in every
# Region of var.regions, using the AWS provider 6 per-resource `region` argument.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  home_region = coalesce(var.home_region, var.regions[0])
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id

  # The Price List API is served from three Regions of the aws partition only (each has every
  # Region's prices): the monitor calls the nearest.
  refresh_prices    = var.refresh_prices && local.partition == "aws"
  price_list_region = startswith(local.home_region, "eu-") ? "eu-central-1" : anytrue([for p in ["ap-", "me-", "af-", "il-"] : startswith(local.home_region, p)]) ? "ap-south-1" : "us-east-1"

  # One bundle per function: local files (`make build`, or prebuilt in a release archive) or S3.
  lambda_package_dir = coalesce(var.lambda_package_dir, "${path.module}/dist/${var.architecture}")
  lambda_packages = {
    for k in keys(local.functions) : k => var.lambda_package_s3 == null ? {
      filename          = "${local.lambda_package_dir}/${k}.zip"
      source_code_hash  = fileexists("${local.lambda_package_dir}/${k}.zip") ? filebase64sha256("${local.lambda_package_dir}/${k}.zip") : null
      s3_bucket         = null
      s3_key            = null
      s3_object_version = null
      } : {
      filename          = null
      source_code_hash  = null
      s3_bucket         = var.lambda_package_s3.bucket
      s3_key            = "${var.lambda_package_s3.key_prefix}${k}.zip"
      s3_object_version = lookup(var.lambda_package_s3.object_versions, k, null)
    }
  }

  metrics_namespace = "CarbonAware"
  alarm_actions     = compact([var.alarm_topic_arn != null ? var.alarm_topic_arn : try(aws_sns_topic.alarms[0].arn, "")])
}
