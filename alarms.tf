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

################################################################################
# Service alarms on the handlers' EMF metrics (carbon_aware.runtime.service_metrics, monitor),
# each notifying the alarm topic. Metrics not emitted yet (Migrations: issues #12/#13;
# RenewableSharePercent: no provider gives it yet) are alarmed on by name already and treat
# missing data as not breaching.
################################################################################

locals {
  service_alarms = merge(
    { for r in var.regions : "high-carbon-${r}" => {
      description = "Average carbon intensity in ${r} above ${var.alarm_thresholds.carbon_intensity} g/kWh over an hour."
      metric      = "CarbonIntensity", dimensions = { Region = r }, statistic = "Average"
      period      = 3600, evaluation_periods = 1, comparison = "GreaterThanThreshold"
      threshold   = var.alarm_thresholds.carbon_intensity, missing = "notBreaching"
    } },
    { for r in var.regions : "low-renewable-${r}" => {
      description = "Renewable share in ${r} below ${var.alarm_thresholds.renewable_share_percent} % over an hour (where known)."
      metric      = "RenewableSharePercent", dimensions = { Region = r }, statistic = "Average"
      period      = 3600, evaluation_periods = 1, comparison = "LessThanThreshold"
      threshold   = var.alarm_thresholds.renewable_share_percent, missing = "notBreaching"
    } },
    {
      planning-on-estimates = {
        description = "Some Region planned on estimates (provider outage or bad credentials) for ${var.alarm_thresholds.estimates_hours} hours, or the monitor stopped reporting."
        metric      = "EstimatedRegions", dimensions = {}, statistic = "Minimum"
        period      = 3600, evaluation_periods = var.alarm_thresholds.estimates_hours, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "breaching"
      }
      scheduler-lag = {
        description = "The oldest due PENDING or SCHEDULED workload waited more than ${var.alarm_thresholds.scheduler_lag_minutes} minutes."
        metric      = "DueIndexLagSeconds", dimensions = {}, statistic = "Maximum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = var.alarm_thresholds.scheduler_lag_minutes * 60, missing = "notBreaching"
      }
      stuck-workloads = {
        description = "Workloads RUNNING past their expected end plus the grace period."
        metric      = "StuckWorkloads", dimensions = {}, statistic = "Maximum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "notBreaching"
      }
      poison-records = {
        description = "A record failed repeatedly in the sweep and was moved to FAILED."
        metric      = "Sweep_poison_failed", dimensions = {}, statistic = "Sum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "notBreaching"
      }
    },
  )

  # Metrics with dimensions unknown at deploy time (fleets, migration Regions): Metrics Insights.
  insights_alarms = {
    migration-storm = {
      description = "More than ${var.alarm_thresholds.migrations_per_hour} migrations in an hour."
      query       = "SELECT SUM(Migrations) FROM SCHEMA(\"${local.metrics_namespace}\", Region)"
      period      = 3600, threshold = var.alarm_thresholds.migrations_per_hour
    }
    placement-score-budget = {
      description = "A fleet exhausted its placement-score budget."
      query       = "SELECT SUM(PlacementScoreBudgetExhausted) FROM SCHEMA(\"${local.metrics_namespace}\", Fleet)"
      period      = 300, threshold = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "service" {
  for_each = var.create_alarms ? local.service_alarms : {}

  region              = local.home_region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "insights" {
  for_each = var.create_alarms ? local.insights_alarms : {}

  region              = local.home_region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "q1"
    expression  = each.value.query
    period      = each.value.period
    return_data = true
  }

  tags = var.tags
}
