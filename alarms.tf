################################################################################
# Alarms and dashboard
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.create_alarm_topic && var.alarm_topic_arn == null ? 1 : 0

  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic under the AWS managed SNS key; the topic is encrypted when var.kms_key_arn (a key CloudWatch may use) is set.
  region            = local.home_region
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

module "dashboard" {
  source = "./modules/dashboard"

  create            = var.create_dashboard
  region            = local.home_region
  partition         = local.partition
  dashboard_name    = var.name
  function_names    = [for m in module.function : m.function_name]
  table_names       = [for t in aws_dynamodb_table.this : t.name]
  queue_names       = [for q in aws_sqs_queue.dlq : q.name]
  metrics_namespace = local.metrics_namespace
}
