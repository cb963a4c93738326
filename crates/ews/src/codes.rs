//! EWS response codes (MS-OXWSCDATA ResponseCodeType): the only place their names are spelled.

/// A `ResponseCode`, in `m:ResponseMessage` elements and in `e:ResponseCode` of SOAP faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// The operation succeeded.
    NoError,
    /// The caller may not act on that mailbox, folder or item.
    ErrorAccessDenied,
    /// An item attachment holds attachments of its own, which umbox does not store.
    ErrorAttachmentNestLevelLimitExceeded,
    /// An attachment is larger than the store accepts.
    ErrorAttachmentSizeLimitExceeded,
    /// The object cannot be deleted (e.g. the voicemail search folder's contents).
    ErrorCannotDeleteObject,
    /// The folder cannot be emptied (a search folder, or distinguished subfolders).
    ErrorCannotEmptyFolder,
    /// Stored data could not be read.
    ErrorCorruptData,
    /// Distinguished folders cannot be deleted.
    ErrorDeleteDistinguishedFolder,
    /// Too many streaming connections for this user.
    ErrorExceededConnectionCount,
    /// A page larger than the find count limit was asked for.
    ErrorExceededFindCountLimit,
    /// Too many subscriptions for this user.
    ErrorExceededSubscriptionCount,
    /// The subscription timed out.
    ErrorExpiredSubscription,
    /// A folder of that name already exists under the parent.
    ErrorFolderExists,
    /// No such folder, or not valid for the requested schema version.
    ErrorFolderNotFound,
    /// The caller does not hold the impersonation right.
    ErrorImpersonationDenied,
    /// A SetItemField or AppendToItemField does not hold exactly the one property its path names.
    ErrorIncorrectUpdatePropertyCount,
    /// An unexpected server failure.
    ErrorInternalServerError,
    /// The attachment id is malformed or unknown.
    ErrorInvalidAttachmentId,
    /// The change key is malformed.
    ErrorInvalidChangeKey,
    /// The Bitmask of an Excludes restriction is not a number.
    ErrorInvalidExcludesRestriction,
    /// An extended property value does not fit its type.
    ErrorInvalidExtendedPropertyValue,
    /// Numerator or Denominator of a fractional page out of range.
    ErrorInvalidFractionalPagingParameters,
    /// The free/busy view asked for is not one a client may request.
    ErrorInvalidFreeBusyViewType,
    /// An id attribute is empty.
    ErrorInvalidIdEmpty,
    /// An id is not one umbox issued, or was tampered with.
    ErrorInvalidIdMalformed,
    /// Offset or MaxEntriesReturned out of range.
    ErrorInvalidIndexedPagingParameters,
    /// The item cannot take part in the operation (e.g. sending a contact).
    ErrorInvalidItemForOperation,
    /// MergedFreeBusyIntervalInMinutes is outside 5–1440.
    ErrorInvalidMergedFreeBusyInterval,
    /// The operation is not valid for the object.
    ErrorInvalidOperation,
    /// Unknown Play on Phone call id.
    ErrorInvalidPhoneCallId,
    /// The dial string is not a phone number umbox may call.
    ErrorInvalidPhoneNumber,
    /// AppendToItemField on a property that cannot be appended to.
    ErrorInvalidPropertyAppend,
    /// DeleteItemField on a property that cannot be deleted.
    ErrorInvalidPropertyDelete,
    /// A requested property does not apply to the object.
    ErrorInvalidPropertyRequest,
    /// SetItemField on a read-only property.
    ErrorInvalidPropertySet,
    /// The id is not a pull subscription.
    ErrorInvalidPullSubscriptionId,
    /// The push URL is malformed or not allowed.
    ErrorInvalidPushSubscriptionUrl,
    /// A recipient address is invalid.
    ErrorInvalidRecipients,
    /// The request is not valid (names what is wrong).
    ErrorInvalidRequest,
    /// The restriction cannot be evaluated.
    ErrorInvalidRestriction,
    /// Scheduled automatic replies need a Duration whose start precedes its end.
    ErrorInvalidScheduledOofDuration,
    /// The requested schema version is not served.
    ErrorInvalidServerVersion,
    /// The subscription id is malformed.
    ErrorInvalidSubscription,
    /// The SyncState is malformed or from another folder.
    ErrorInvalidSyncStateData,
    /// A time window whose start is not before its end.
    ErrorInvalidTimeInterval,
    /// A restriction constant does not fit the type of its property.
    ErrorInvalidValueForProperty,
    /// UserConfiguration BinaryData is not valid base64 (MS-OXWSUSRCFG).
    ErrorInvalidValueForPropertyBinaryData,
    /// A user configuration dictionary names the same key twice.
    ErrorInvalidValueForPropertyDuplicateDictionaryKey,
    /// A user configuration dictionary value does not read as its Type.
    ErrorInvalidValueForPropertyKeyValueConversion,
    /// A dictionary object that is not a StringArray has other than one Value.
    ErrorInvalidValueForPropertyStringArrayDictionaryKey,
    /// A user configuration name that is empty, too long or holds other characters than letters,
    /// digits, `.`, `_` and `-`.
    ErrorInvalidValueForPropertyUserConfigurationName,
    /// UserConfiguration XmlData is not valid base64.
    ErrorInvalidValueForPropertyXmlData,
    /// The watermark is older than the kept event log.
    ErrorInvalidWatermark,
    /// The item changed since the given change key.
    ErrorIrresolvableConflict,
    /// No such item.
    ErrorItemNotFound,
    /// The item could not be saved; CreateUserConfiguration answers it for a name the folder
    /// already has.
    ErrorItemSave,
    /// The availability request names an address no mailbox has.
    ErrorMailRecipientNotFound,
    /// CreateItem or UpdateItem of a message without MessageDisposition.
    ErrorMessageDispositionRequired,
    /// A part of a user configuration object is over the size limit.
    ErrorMessageSizeExceeded,
    /// Events were lost for this subscription (backlog overflow).
    ErrorMissedNotificationEvents,
    /// The move or copy target is not valid.
    ErrorMoveCopyFailed,
    /// MoveFolder named a distinguished folder, which stays where it is (MS-OXWSFOLD).
    ErrorMoveDistinguishedFolder,
    /// Several entries match the name.
    ErrorNameResolutionMultipleResults,
    /// No entry matches the name.
    ErrorNameResolutionNoResults,
    /// No mailbox has that address.
    ErrorNonExistentMailbox,
    /// The restriction has more nodes than umbox evaluates.
    ErrorRestrictionTooComplex,
    /// The request is not valid against the EWS schema.
    ErrorSchemaValidation,
    /// The message names a sender the caller may not send as.
    ErrorSendAsDenied,
    /// The server is busy; retry after BackOffMilliseconds.
    ErrorServerBusy,
    /// The subscription belongs to another user.
    ErrorSubscriptionAccessDenied,
    /// No such subscription.
    ErrorSubscriptionNotFound,
    /// The free/busy time window is longer than the server allows.
    ErrorTimeIntervalTooBig,
    /// A time zone id the server does not know, or a time zone that cannot be used.
    ErrorTimeZone,
    /// The user's dial plan does not exist.
    ErrorUnifiedMessagingDialPlanNotFound,
    /// The MIME content cannot be turned into an item.
    ErrorUnsupportedMimeConversion,
    /// The property cannot be used to sort.
    ErrorUnsupportedPathForSortGroup,
    /// The property cannot be used in a restriction.
    ErrorUnsupportedPathForQuery,
    /// UpdateUserConfiguration sets BinaryData on an object created without it.
    ErrorUserConfigurationBinaryDataNotExist,
    /// UpdateUserConfiguration sets a Dictionary on an object created without one.
    ErrorUserConfigurationDictionaryNotExist,
    /// UpdateUserConfiguration sets XmlData on an object created without it.
    ErrorUserConfigurationXmlDataNotExist,
}

impl ResponseCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseCode::NoError => "NoError",
            ResponseCode::ErrorUserConfigurationXmlDataNotExist => {
                "ErrorUserConfigurationXmlDataNotExist"
            }
            ResponseCode::ErrorUserConfigurationDictionaryNotExist => {
                "ErrorUserConfigurationDictionaryNotExist"
            }
            ResponseCode::ErrorUserConfigurationBinaryDataNotExist => {
                "ErrorUserConfigurationBinaryDataNotExist"
            }
            ResponseCode::ErrorMessageSizeExceeded => "ErrorMessageSizeExceeded",
            ResponseCode::ErrorItemSave => "ErrorItemSave",
            ResponseCode::ErrorInvalidValueForPropertyXmlData => {
                "ErrorInvalidValueForPropertyXmlData"
            }
            ResponseCode::ErrorInvalidValueForPropertyUserConfigurationName => {
                "ErrorInvalidValueForPropertyUserConfigurationName"
            }
            ResponseCode::ErrorInvalidValueForPropertyStringArrayDictionaryKey => {
                "ErrorInvalidValueForPropertyStringArrayDictionaryKey"
            }
            ResponseCode::ErrorInvalidValueForPropertyKeyValueConversion => {
                "ErrorInvalidValueForPropertyKeyValueConversion"
            }
            ResponseCode::ErrorInvalidValueForPropertyDuplicateDictionaryKey => {
                "ErrorInvalidValueForPropertyDuplicateDictionaryKey"
            }
            ResponseCode::ErrorInvalidValueForPropertyBinaryData => {
                "ErrorInvalidValueForPropertyBinaryData"
            }
            ResponseCode::ErrorAccessDenied => "ErrorAccessDenied",
            ResponseCode::ErrorAttachmentNestLevelLimitExceeded => {
                "ErrorAttachmentNestLevelLimitExceeded"
            }
            ResponseCode::ErrorAttachmentSizeLimitExceeded => "ErrorAttachmentSizeLimitExceeded",
            ResponseCode::ErrorCannotDeleteObject => "ErrorCannotDeleteObject",
            ResponseCode::ErrorCannotEmptyFolder => "ErrorCannotEmptyFolder",
            ResponseCode::ErrorCorruptData => "ErrorCorruptData",
            ResponseCode::ErrorDeleteDistinguishedFolder => "ErrorDeleteDistinguishedFolder",
            ResponseCode::ErrorExceededConnectionCount => "ErrorExceededConnectionCount",
            ResponseCode::ErrorExceededFindCountLimit => "ErrorExceededFindCountLimit",
            ResponseCode::ErrorExceededSubscriptionCount => "ErrorExceededSubscriptionCount",
            ResponseCode::ErrorExpiredSubscription => "ErrorExpiredSubscription",
            ResponseCode::ErrorFolderExists => "ErrorFolderExists",
            ResponseCode::ErrorFolderNotFound => "ErrorFolderNotFound",
            ResponseCode::ErrorImpersonationDenied => "ErrorImpersonationDenied",
            ResponseCode::ErrorIncorrectUpdatePropertyCount => "ErrorIncorrectUpdatePropertyCount",
            ResponseCode::ErrorInternalServerError => "ErrorInternalServerError",
            ResponseCode::ErrorInvalidAttachmentId => "ErrorInvalidAttachmentId",
            ResponseCode::ErrorInvalidChangeKey => "ErrorInvalidChangeKey",
            ResponseCode::ErrorInvalidExcludesRestriction => "ErrorInvalidExcludesRestriction",
            ResponseCode::ErrorInvalidExtendedPropertyValue => "ErrorInvalidExtendedPropertyValue",
            ResponseCode::ErrorInvalidFreeBusyViewType => "ErrorInvalidFreeBusyViewType",
            ResponseCode::ErrorInvalidIdEmpty => "ErrorInvalidIdEmpty",
            ResponseCode::ErrorInvalidIdMalformed => "ErrorInvalidIdMalformed",
            ResponseCode::ErrorInvalidIndexedPagingParameters => {
                "ErrorInvalidIndexedPagingParameters"
            }
            ResponseCode::ErrorInvalidMergedFreeBusyInterval => {
                "ErrorInvalidMergedFreeBusyInterval"
            }
            ResponseCode::ErrorInvalidFractionalPagingParameters => {
                "ErrorInvalidFractionalPagingParameters"
            }
            ResponseCode::ErrorInvalidItemForOperation => "ErrorInvalidItemForOperation",
            ResponseCode::ErrorInvalidOperation => "ErrorInvalidOperation",
            ResponseCode::ErrorInvalidPhoneCallId => "ErrorInvalidPhoneCallId",
            ResponseCode::ErrorInvalidPhoneNumber => "ErrorInvalidPhoneNumber",
            ResponseCode::ErrorInvalidPropertyAppend => "ErrorInvalidPropertyAppend",
            ResponseCode::ErrorInvalidPropertyDelete => "ErrorInvalidPropertyDelete",
            ResponseCode::ErrorInvalidPropertyRequest => "ErrorInvalidPropertyRequest",
            ResponseCode::ErrorInvalidPropertySet => "ErrorInvalidPropertySet",
            ResponseCode::ErrorInvalidPullSubscriptionId => "ErrorInvalidPullSubscriptionId",
            ResponseCode::ErrorInvalidPushSubscriptionUrl => "ErrorInvalidPushSubscriptionUrl",
            ResponseCode::ErrorInvalidRecipients => "ErrorInvalidRecipients",
            ResponseCode::ErrorInvalidRequest => "ErrorInvalidRequest",
            ResponseCode::ErrorInvalidRestriction => "ErrorInvalidRestriction",
            ResponseCode::ErrorInvalidScheduledOofDuration => "ErrorInvalidScheduledOofDuration",
            ResponseCode::ErrorInvalidServerVersion => "ErrorInvalidServerVersion",
            ResponseCode::ErrorInvalidSubscription => "ErrorInvalidSubscription",
            ResponseCode::ErrorInvalidSyncStateData => "ErrorInvalidSyncStateData",
            ResponseCode::ErrorInvalidValueForProperty => "ErrorInvalidValueForProperty",
            ResponseCode::ErrorInvalidTimeInterval => "ErrorInvalidTimeInterval",
            ResponseCode::ErrorInvalidWatermark => "ErrorInvalidWatermark",
            ResponseCode::ErrorIrresolvableConflict => "ErrorIrresolvableConflict",
            ResponseCode::ErrorItemNotFound => "ErrorItemNotFound",
            ResponseCode::ErrorMailRecipientNotFound => "ErrorMailRecipientNotFound",
            ResponseCode::ErrorMessageDispositionRequired => "ErrorMessageDispositionRequired",
            ResponseCode::ErrorMissedNotificationEvents => "ErrorMissedNotificationEvents",
            ResponseCode::ErrorMoveCopyFailed => "ErrorMoveCopyFailed",
            ResponseCode::ErrorMoveDistinguishedFolder => "ErrorMoveDistinguishedFolder",
            ResponseCode::ErrorNameResolutionMultipleResults => {
                "ErrorNameResolutionMultipleResults"
            }
            ResponseCode::ErrorNameResolutionNoResults => "ErrorNameResolutionNoResults",
            ResponseCode::ErrorNonExistentMailbox => "ErrorNonExistentMailbox",
            ResponseCode::ErrorRestrictionTooComplex => "ErrorRestrictionTooComplex",
            ResponseCode::ErrorSchemaValidation => "ErrorSchemaValidation",
            ResponseCode::ErrorSendAsDenied => "ErrorSendAsDenied",
            ResponseCode::ErrorServerBusy => "ErrorServerBusy",
            ResponseCode::ErrorSubscriptionAccessDenied => "ErrorSubscriptionAccessDenied",
            ResponseCode::ErrorSubscriptionNotFound => "ErrorSubscriptionNotFound",
            ResponseCode::ErrorTimeIntervalTooBig => "ErrorTimeIntervalTooBig",
            ResponseCode::ErrorTimeZone => "ErrorTimeZone",
            ResponseCode::ErrorUnifiedMessagingDialPlanNotFound => {
                "ErrorUnifiedMessagingDialPlanNotFound"
            }
            ResponseCode::ErrorUnsupportedMimeConversion => "ErrorUnsupportedMimeConversion",
            ResponseCode::ErrorUnsupportedPathForQuery => "ErrorUnsupportedPathForQuery",
            ResponseCode::ErrorUnsupportedPathForSortGroup => "ErrorUnsupportedPathForSortGroup",
        }
    }

    /// `Success` for NoError; `Warning` for the codes Exchange reports as warnings, whose response
    /// message still carries its payload (ErrorNameResolutionMultipleResults with the candidates,
    /// MS-OXWSRSLV §3.1.4.1); else `Error`.
    pub fn response_class(self) -> &'static str {
        match self {
            ResponseCode::NoError => "Success",
            ResponseCode::ErrorNameResolutionMultipleResults => "Warning",
            _ => "Error",
        }
    }
}
