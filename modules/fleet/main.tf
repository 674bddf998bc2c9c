# One Spot fleet over several Regions: in each, a launch template and an Auto Scaling group with a
# mixed-instances policy (price-capacity-optimized Spot, capacity rebalancing, lifecycle hooks)
# and a target-tracking policy whose target follows the Region's carbon intensity tier, all
# through the AWS provider 6 per-resource `region`. The fleet_optimizer function owns the groups'
# desired capacity and the policies' targets: Terraform sets them once and then ignores them.

locals {
  regions = var.create ? var.regions : {}
  ordered = sort(keys(var.regions))

  # Latest Amazon Linux 2023 AMI of the architecture, a public parameter in every Region.
  image_ssm_parameter = coalesce(var.image_ssm_parameter, "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}")

  # Group limits from the shares of the fleet total: the minimum a Region holds even at
  # min_total, the maximum it may hold at max_total.
  min_size = { for r, c in var.regions : r => floor(c.min_share * var.min_total) }
  max_size = { for r, c in var.regions : r => max(local.min_size[r], ceil(c.max_share * var.max_total)) }
  # First desired capacity: desired_total split evenly (the remainder to the first Regions in
  # name order) within each group's limits. The optimizer takes over from there.
  initial_desired = {
    for i, r in local.ordered : r => min(local.max_size[r], max(local.min_size[r],
      floor(var.desired_total / length(local.ordered)) + (i < var.desired_total % length(local.ordered) ? 1 : 0)
    ))
  }

  scaling_policy_name = "${var.name}-carbon-utilisation"
  initial_target      = var.scaling_tiers[length(var.scaling_tiers) - 1].target

  # What the optimizer prices and scores (spot price history, placement scores).
  priced_instance_types = var.instance_requirements == null ? var.instance_types : var.instance_requirements.allowed_instance_types

  group_tags = merge(var.tags, { Name = var.name, "carbon-aware:fleet" = var.name })
}

data "aws_ssm_parameter" "image" {
  for_each = { for r, c in local.regions : r => c if c.image_id == null }

  region = each.key
  name   = local.image_ssm_parameter
}

resource "aws_launch_template" "this" {
  for_each = local.regions

  region                 = each.key
  name                   = var.name
  description            = "Instances of the carbon-aware fleet ${var.name}."
  image_id               = coalesce(each.value.image_id, try(data.aws_ssm_parameter.image[each.key].insecure_value, null))
  user_data              = var.user_data == null ? null : base64encode(var.user_data)
  vpc_security_group_ids = each.value.security_group_ids
  update_default_version = true

  dynamic "iam_instance_profile" {
    for_each = var.instance_profile_arn == null ? [] : [var.instance_profile_arn]
    content {
      arn = iam_instance_profile.value
    }
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = var.root_volume.device_name
    ebs {
      encrypted             = true
      kms_key_id            = lookup(var.root_volume.kms_key_arns, each.key, null)
      volume_size           = var.root_volume.size_gib
      volume_type           = var.root_volume.type
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.group_tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.group_tags
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "this" {
  for_each = local.regions

  region                    = each.key
  name                      = var.name
  min_size                  = local.min_size[each.key]
  max_size                  = local.max_size[each.key]
  desired_capacity          = local.initial_desired[each.key]
  vpc_zone_identifier       = each.value.subnet_ids
  capacity_rebalance        = true
  health_check_type         = "EC2"
  health_check_grace_period = var.health_check_grace_period

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = each.value.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = 0
      on_demand_allocation_strategy            = "lowest-price"
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.this[each.key].id
        version            = aws_launch_template.this[each.key].latest_version
      }

      dynamic "override" {
        for_each = var.instance_types
        content {
          instance_type = override.value
        }
      }

      dynamic "override" {
        for_each = var.instance_requirements == null ? [] : [var.instance_requirements]
        content {
          instance_requirements {
            cpu_manufacturers      = var.architecture == "arm64" ? ["amazon-web-services"] : ["amd", "intel"]
            instance_generations   = override.value.instance_generations
            burstable_performance  = override.value.burstable_performance
            allowed_instance_types = override.value.allowed_instance_types

            vcpu_count {
              min = override.value.vcpu_min
              max = override.value.vcpu_max
            }

            memory_mib {
              min = override.value.memory_mib_min
              max = override.value.memory_mib_max
            }
          }
        }
      }
    }
  }

  initial_lifecycle_hook {
    name                 = "launch"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    heartbeat_timeout    = var.launch_heartbeat_timeout
    default_result       = "CONTINUE"
  }

  initial_lifecycle_hook {
    name                 = "terminate"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    heartbeat_timeout    = var.terminate_heartbeat_timeout
    default_result       = "CONTINUE"
  }

  dynamic "tag" {
    for_each = local.group_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # The fleet_optimizer function moves capacity between the Regions.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "this" {
  for_each = local.regions

  region                 = each.key
  name                   = local.scaling_policy_name
  autoscaling_group_name = aws_autoscaling_group.this[each.key].name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = local.initial_target
  }

  lifecycle {
    # The fleet_optimizer function sets the target of the Region's carbon intensity tier.
    ignore_changes = [target_tracking_configuration[0].target_value]
  }
}
