package rpc

import (
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/tenancy/internal/domain"
)

var (
	planToProto = map[domain.Plan]tenancyv1.Plan{
		domain.PlanFree:       tenancyv1.Plan_PLAN_FREE,
		domain.PlanPro:        tenancyv1.Plan_PLAN_PRO,
		domain.PlanEnterprise: tenancyv1.Plan_PLAN_ENTERPRISE,
	}
	statusToProto = map[domain.TenantStatus]tenancyv1.TenantStatus{
		domain.TenantActive:    tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE,
		domain.TenantSuspended: tenancyv1.TenantStatus_TENANT_STATUS_SUSPENDED,
		domain.TenantDeleted:   tenancyv1.TenantStatus_TENANT_STATUS_DELETED,
	}
	modeToProto = map[domain.CredentialMode]tenancyv1.CredentialMode{
		domain.CredentialCertificate: tenancyv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE,
		domain.CredentialManagedKey:  tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY,
	}
)

// planFromProto maps PLAN_UNSPECIFIED to "", which the domain turns into
// its default plan.
func planFromProto(p tenancyv1.Plan) (domain.Plan, error) {
	if p == tenancyv1.Plan_PLAN_UNSPECIFIED {
		return "", nil
	}
	for plan, value := range planToProto {
		if value == p {
			return plan, nil
		}
	}
	return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("plan %d is invalid: use PLAN_FREE, PLAN_PRO or PLAN_ENTERPRISE", p))
}

// credentialModeFromProto maps CREDENTIAL_MODE_UNSPECIFIED to "", which the
// domain turns into its default mode.
func credentialModeFromProto(m tenancyv1.CredentialMode) (domain.CredentialMode, error) {
	if m == tenancyv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED {
		return "", nil
	}
	for mode, value := range modeToProto {
		if value == m {
			return mode, nil
		}
	}
	return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("credential_mode %d is invalid: use CREDENTIAL_MODE_CERTIFICATE or CREDENTIAL_MODE_MANAGED_KEY", m))
}

func tenantToProto(t *domain.Tenant) *tenancyv1.Tenant {
	return &tenancyv1.Tenant{
		Id:          t.ID,
		Slug:        t.Slug,
		DisplayName: t.DisplayName,
		Plan:        planToProto[t.Plan],
		Status:      statusToProto[t.Status],
		CreateTime:  timestamppb.New(t.CreateTime),
	}
}

func hostToProto(h *domain.Host) *tenancyv1.Host {
	return &tenancyv1.Host{
		Id:                 h.ID,
		TenantId:           h.TenantID,
		Name:               h.Name,
		Address:            h.Address,
		Port:               uint32(h.Port),
		SshUser:            h.SSHUser,
		HostKey:            h.HostKey,
		HostKeyFingerprint: h.HostKeyFingerprint,
		CredentialMode:     modeToProto[h.CredentialMode],
		CreateTime:         timestamppb.New(h.CreateTime),
		DokkuVersion:       h.DokkuVersion,
		Plugins:            h.Plugins,
		VerifyTime:         optionalTimestamp(h.VerifyTime),
	}
}

// optionalTimestamp leaves a zero time unset.
func optionalTimestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
