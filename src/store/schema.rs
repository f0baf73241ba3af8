// @generated-style Diesel schema, kept in sync with migrations/ (see diesel.toml).

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        token_hash -> Text,
        created -> Text,
        expires -> Nullable<Text>,
        last_used -> Nullable<Text>,
        revoked -> Nullable<Text>,
        replaced_by -> Nullable<Text>,
        scope -> Text,
    }
}

diesel::table! {
    users (seq) {
        seq -> BigInt,
        id -> Text,
        user_name_folded -> Text,
        external_id -> Nullable<Text>,
        display_name_folded -> Nullable<Text>,
        active -> Nullable<Bool>,
        created -> Text,
        last_modified -> Text,
        version -> BigInt,
        resource -> Text,
    }
}

diesel::table! {
    groups (seq) {
        seq -> BigInt,
        id -> Text,
        display_name_folded -> Text,
        external_id -> Nullable<Text>,
        created -> Text,
        last_modified -> Text,
        version -> BigInt,
        resource -> Text,
    }
}

diesel::table! {
    group_members (group_id, member_id) {
        group_id -> Text,
        member_id -> Text,
        member_type -> Text,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> Text,
        name -> Text,
        scope -> Text,
        created -> Text,
        last_used -> Nullable<Text>,
        revoked -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_client_secrets (id) {
        id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        created -> Text,
        expires -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Text,
        created -> Text,
        retired -> Nullable<Text>,
        expires -> Nullable<Text>,
    }
}

diesel::joinable!(oauth_client_secrets -> oauth_clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    users,
    groups,
    group_members,
    oauth_clients,
    oauth_client_secrets,
    signing_keys
);
