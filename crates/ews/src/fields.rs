//! Property paths of EWS requests (MS-OXWSCDATA `FieldURI`, `IndexedFieldURI`, `ExtendedFieldURI`)
//! and response shapes (`BaseShape`, `AdditionalProperties`, `BodyType`, `IncludeMimeContent`).
//!
//! Parsing only: what a path means for a folder or an item is decided where they are rendered.
//! Every path a client may name is a typed value here; an unknown `FieldURI` is a schema fault,
//! as the EWS schema makes it an enumeration.

use crate::error::Fault;
use crate::time;
use umbox_store::props::{
    property_sets, FileTime, Guid, NamedProperty, PropKey, PropName, PropTag, PropType, PropValue,
};
use umbox_xml::{ns, Element};

/// An unindexed field URI (`FieldURI/@FieldURI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldUri {
    /// `folder:FolderId`: The folder's id and change key.
    FolderId,
    /// `folder:ParentFolderId`: The parent folder's id.
    FolderParentFolderId,
    /// `folder:FolderClass`: PidTagContainerClass.
    FolderClass,
    /// `folder:DisplayName`: PidTagDisplayName.
    FolderDisplayName,
    /// `folder:TotalCount`: Items in the folder.
    FolderTotalCount,
    /// `folder:ChildFolderCount`: Direct subfolders.
    FolderChildFolderCount,
    /// `folder:UnreadCount`: Unread items in the folder.
    FolderUnreadCount,
    /// `folder:EffectiveRights`: What the caller may do.
    FolderEffectiveRights,
    /// `folder:SearchParameters`: A search folder's restriction and scope.
    FolderSearchParameters,
    /// `folder:DistinguishedFolderId` (Exchange2016): The distinguished name of a well-known folder.
    FolderDistinguishedFolderId,
    /// `folder:PermissionSet`: Who else may open the folder; umbox shares no folders, so it has
    /// none to write (the owner's own rights are `folder:EffectiveRights`).
    FolderPermissionSet,
    /// `item:ItemId`: The item's id and change key.
    ItemId,
    /// `item:ParentFolderId`: The folder holding the item.
    ItemParentFolderId,
    /// `item:ItemClass`: PidTagMessageClass.
    ItemClass,
    /// `item:Subject`: PidTagSubject.
    ItemSubject,
    /// `item:Sensitivity`: Normal, Personal, Private, Confidential.
    ItemSensitivity,
    /// `item:Body`: Text or HTML body.
    ItemBody,
    /// `item:Attachments`: The attachments.
    ItemAttachments,
    /// `item:DateTimeReceived`: PidTagMessageDeliveryTime.
    ItemDateTimeReceived,
    /// `item:Size`: PidTagMessageSize.
    ItemSize,
    /// `item:Categories`: Keywords.
    ItemCategories,
    /// `item:Importance`: Low, Normal, High.
    ItemImportance,
    /// `item:InReplyTo`: Internet message id replied to.
    ItemInReplyTo,
    /// `item:IsSubmitted`: Submitted for sending.
    ItemIsSubmitted,
    /// `item:IsDraft`: Unsent.
    ItemIsDraft,
    /// `item:IsFromMe`: Sent by the mailbox owner.
    ItemIsFromMe,
    /// `item:IsResend`: Resent.
    ItemIsResend,
    /// `item:IsUnmodified`: Not changed since delivery.
    ItemIsUnmodified,
    /// `item:InternetMessageHeaders`: The message's Internet headers.
    ItemInternetMessageHeaders,
    /// `item:DateTimeSent`: PidTagClientSubmitTime.
    ItemDateTimeSent,
    /// `item:DateTimeCreated`: PidTagCreationTime.
    ItemDateTimeCreated,
    /// `item:ResponseObjects`: Possible responses.
    ItemResponseObjects,
    /// `item:ReminderDueBy`: Reminder time.
    ItemReminderDueBy,
    /// `item:ReminderIsSet`: Reminder on.
    ItemReminderIsSet,
    /// `item:ReminderMinutesBeforeStart`: Reminder lead time.
    ItemReminderMinutesBeforeStart,
    /// `item:DisplayCc`: Cc display string.
    ItemDisplayCc,
    /// `item:DisplayTo`: To display string.
    ItemDisplayTo,
    /// `item:HasAttachments`: PidTagHasAttachments.
    ItemHasAttachments,
    /// `item:Culture`: Language of the item.
    ItemCulture,
    /// `item:EffectiveRights`: What the caller may do.
    ItemEffectiveRights,
    /// `item:LastModifiedName`: Who changed it last.
    ItemLastModifiedName,
    /// `item:LastModifiedTime`: PidTagLastModificationTime.
    ItemLastModifiedTime,
    /// `item:IsAssociated`: Folder-associated item.
    ItemIsAssociated,
    /// `item:WebClientReadFormQueryString`: OWA read link.
    ItemWebClientReadFormQueryString,
    /// `item:WebClientEditFormQueryString`: OWA edit link.
    ItemWebClientEditFormQueryString,
    /// `item:ConversationId`: Conversation the item belongs to.
    ItemConversationId,
    /// `item:UniqueBody`: Body without quoted text.
    ItemUniqueBody,
    /// `item:MimeContent`: The MIME rendering.
    ItemMimeContent,
    /// `message:Sender`: The sending mailbox.
    MessageSender,
    /// `message:ToRecipients`: To.
    MessageToRecipients,
    /// `message:CcRecipients`: Cc.
    MessageCcRecipients,
    /// `message:BccRecipients`: Bcc.
    MessageBccRecipients,
    /// `message:IsReadReceiptRequested`: Read receipt asked for.
    MessageIsReadReceiptRequested,
    /// `message:IsDeliveryReceiptRequested`: Delivery receipt asked for.
    MessageIsDeliveryReceiptRequested,
    /// `message:ConversationIndex`: Thread index.
    MessageConversationIndex,
    /// `message:ConversationTopic`: Thread topic.
    MessageConversationTopic,
    /// `message:From`: The author.
    MessageFrom,
    /// `message:InternetMessageId`: Message-ID.
    MessageInternetMessageId,
    /// `message:IsRead`: Read flag.
    MessageIsRead,
    /// `message:IsResponseRequested`: Response asked for.
    MessageIsResponseRequested,
    /// `message:References`: References header.
    MessageReferences,
    /// `message:ReplyTo`: Reply-To.
    MessageReplyTo,
    /// `message:ReceivedBy`: The receiving mailbox.
    MessageReceivedBy,
    /// `message:ReceivedRepresenting`: The mailbox received on behalf of.
    MessageReceivedRepresenting,
    /// `calendar:Start`: Start time.
    CalendarStart,
    /// `calendar:End`: End time.
    CalendarEnd,
    /// `calendar:IsAllDayEvent`: All-day event.
    CalendarIsAllDayEvent,
    /// `calendar:LegacyFreeBusyStatus`: Free, Tentative, Busy, OOF, NoData.
    CalendarLegacyFreeBusyStatus,
    /// `calendar:Location`: Location.
    CalendarLocation,
    /// `calendar:Organizer`: Organizer.
    CalendarOrganizer,
    /// `contacts:DisplayName`: Contact display name.
    ContactsDisplayName,
    /// `contacts:GivenName`: Given name.
    ContactsGivenName,
    /// `contacts:Surname`: Surname.
    ContactsSurname,
    /// `contacts:CompanyName`: Company.
    ContactsCompanyName,
    /// `contacts:EmailAddresses`: E-mail addresses.
    ContactsEmailAddresses,
    /// `contacts:PhoneNumbers`: Phone numbers.
    ContactsPhoneNumbers,
    /// `contacts:FileAs`: File-as name.
    ContactsFileAs,
    /// `item:TextBody`: The body as plain text (Exchange2013+).
    ItemTextBody,
    /// `message:ReminderMessageData`: Reminder data of a reminder message.
    MessageReminderMessageData,
    /// `calendar:UID`: The iCalendar UID.
    CalendarUid,
    /// `calendar:RecurrenceId`: The occurrence's original start.
    CalendarRecurrenceId,
    /// `calendar:DateTimeStamp`: The iCalendar DTSTAMP.
    CalendarDateTimeStamp,
    /// `calendar:OriginalStart`: An occurrence's original start.
    CalendarOriginalStart,
    /// `calendar:When`: A description of when it happens.
    CalendarWhen,
    /// `calendar:IsMeeting`: Has attendees.
    CalendarIsMeeting,
    /// `calendar:IsCancelled`: Cancelled by the organizer.
    CalendarIsCancelled,
    /// `calendar:IsRecurring`: Part of a series.
    CalendarIsRecurring,
    /// `calendar:MeetingRequestWasSent`: Invitations went out.
    CalendarMeetingRequestWasSent,
    /// `calendar:IsResponseRequested`: Responses asked for.
    CalendarIsResponseRequested,
    /// `calendar:CalendarItemType`: Single, Occurrence, Exception or RecurringMaster.
    CalendarItemType,
    /// `calendar:MyResponseType`: The owner's response.
    CalendarMyResponseType,
    /// `calendar:RequiredAttendees`: Required attendees.
    CalendarRequiredAttendees,
    /// `calendar:OptionalAttendees`: Optional attendees.
    CalendarOptionalAttendees,
    /// `calendar:Resources`: Resources booked.
    CalendarResources,
    /// `calendar:ConflictingMeetingCount`: Overlapping meetings.
    CalendarConflictingMeetingCount,
    /// `calendar:AdjacentMeetingCount`: Back-to-back meetings.
    CalendarAdjacentMeetingCount,
    /// `calendar:ConflictingMeetings`: The overlapping meetings.
    CalendarConflictingMeetings,
    /// `calendar:AdjacentMeetings`: The back-to-back meetings.
    CalendarAdjacentMeetings,
    /// `calendar:Duration`: End minus start.
    CalendarDuration,
    /// `calendar:TimeZone`: The time zone's name.
    CalendarTimeZone,
    /// `calendar:AppointmentReplyTime`: When the owner replied.
    CalendarAppointmentReplyTime,
    /// `calendar:AppointmentSequenceNumber`: The iCalendar SEQUENCE.
    CalendarAppointmentSequenceNumber,
    /// `calendar:AppointmentState`: Meeting state flags.
    CalendarAppointmentState,
    /// `calendar:Recurrence`: The recurrence pattern.
    CalendarRecurrence,
    /// `calendar:FirstOccurrence`: A series' first occurrence.
    CalendarFirstOccurrence,
    /// `calendar:LastOccurrence`: A series' last occurrence.
    CalendarLastOccurrence,
    /// `calendar:ModifiedOccurrences`: Changed occurrences.
    CalendarModifiedOccurrences,
    /// `calendar:DeletedOccurrences`: Deleted occurrences.
    CalendarDeletedOccurrences,
    /// `calendar:MeetingTimeZone`: The Exchange2007 time zone.
    CalendarMeetingTimeZone,
    /// `calendar:StartTimeZone`: The start's time zone.
    CalendarStartTimeZone,
    /// `calendar:EndTimeZone`: The end's time zone.
    CalendarEndTimeZone,
    /// `calendar:ConferenceType`: Online conference kind.
    CalendarConferenceType,
    /// `calendar:AllowNewTimeProposal`: Attendees may propose times.
    CalendarAllowNewTimeProposal,
    /// `calendar:IsOnlineMeeting`: An online meeting.
    CalendarIsOnlineMeeting,
    /// `calendar:MeetingWorkspaceUrl`: Meeting workspace link.
    CalendarMeetingWorkspaceUrl,
    /// `calendar:NetShowUrl`: NetShow link.
    CalendarNetShowUrl,
    /// `contacts:FileAsMapping`: How FileAs is built.
    ContactsFileAsMapping,
    /// `contacts:Initials`: Initials.
    ContactsInitials,
    /// `contacts:MiddleName`: Middle name.
    ContactsMiddleName,
    /// `contacts:Nickname`: Nickname.
    ContactsNickname,
    /// `contacts:CompleteName`: All name parts.
    ContactsCompleteName,
    /// `contacts:PhysicalAddresses`: Postal addresses.
    ContactsPhysicalAddresses,
    /// `contacts:AssistantName`: Assistant.
    ContactsAssistantName,
    /// `contacts:Birthday`: Birthday.
    ContactsBirthday,
    /// `contacts:BusinessHomePage`: Business web page.
    ContactsBusinessHomePage,
    /// `contacts:Children`: Children's names.
    ContactsChildren,
    /// `contacts:Companies`: Companies.
    ContactsCompanies,
    /// `contacts:ContactSource`: Store or ActiveDirectory.
    ContactsContactSource,
    /// `contacts:Department`: Department.
    ContactsDepartment,
    /// `contacts:Generation`: Generation suffix.
    ContactsGeneration,
    /// `contacts:ImAddresses`: Instant messaging addresses.
    ContactsImAddresses,
    /// `contacts:JobTitle`: Job title.
    ContactsJobTitle,
    /// `contacts:Manager`: Manager's name.
    ContactsManager,
    /// `contacts:Mileage`: Mileage.
    ContactsMileage,
    /// `contacts:OfficeLocation`: Office.
    ContactsOfficeLocation,
    /// `contacts:PostalAddressIndex`: Which address is the mailing address.
    ContactsPostalAddressIndex,
    /// `contacts:Profession`: Profession.
    ContactsProfession,
    /// `contacts:SpouseName`: Spouse.
    ContactsSpouseName,
    /// `contacts:WeddingAnniversary`: Wedding anniversary.
    ContactsWeddingAnniversary,
    /// `contacts:HasPicture`: Has a photo.
    ContactsHasPicture,
    /// `contacts:PhoneticFullName`: Phonetic full name.
    ContactsPhoneticFullName,
    /// `contacts:PhoneticFirstName`: Phonetic given name.
    ContactsPhoneticFirstName,
    /// `contacts:PhoneticLastName`: Phonetic surname.
    ContactsPhoneticLastName,
    /// `contacts:Alias`: Alias.
    ContactsAlias,
    /// `contacts:Notes`: Notes.
    ContactsNotes,
    /// `contacts:Photo`: Photo bytes.
    ContactsPhoto,
    /// `contacts:UserSMIMECertificate`: S/MIME certificates.
    ContactsUserSmimeCertificate,
    /// `contacts:MSExchangeCertificate`: Exchange certificates.
    ContactsMsExchangeCertificate,
    /// `contacts:DirectoryId`: Directory object id.
    ContactsDirectoryId,
    /// `contacts:ManagerMailbox`: Manager's mailbox.
    ContactsManagerMailbox,
    /// `contacts:DirectReports`: Direct reports.
    ContactsDirectReports,
    /// `distributionlist:Members`: A distribution list's members.
    DistributionListMembers,
    /// `meeting:AssociatedCalendarItemId`: The calendar item a meeting message is about.
    MeetingAssociatedCalendarItemId,
    /// `meeting:HasBeenProcessed`: The meeting message has been processed.
    MeetingHasBeenProcessed,
    /// `meeting:IsDelegated`: Received by a delegate.
    MeetingIsDelegated,
    /// `meeting:IsOutOfDate`: A newer update exists.
    MeetingIsOutOfDate,
    /// `meeting:ProposedEnd`: A proposed new end.
    MeetingProposedEnd,
    /// `meeting:ProposedStart`: A proposed new start.
    MeetingProposedStart,
    /// `meeting:ResponseType`: The response a meeting message carries.
    MeetingResponseType,
    /// `meetingRequest:IntendedFreeBusyStatus`: The organizer's intended free/busy status.
    MeetingRequestIntendedFreeBusyStatus,
    /// `meetingRequest:MeetingRequestType`: New, update or information request.
    MeetingRequestMeetingRequestType,
    /// `postitem:PostedTime`: When a post was made.
    PostItemPostedTime,
    /// `task:ActualWork`: Task field ActualWork.
    TaskActualWork,
    /// `task:AssignedTime`: Task field AssignedTime.
    TaskAssignedTime,
    /// `task:BillingInformation`: Task field BillingInformation.
    TaskBillingInformation,
    /// `task:ChangeCount`: Task field ChangeCount.
    TaskChangeCount,
    /// `task:Companies`: Task field Companies.
    TaskCompanies,
    /// `task:CompleteDate`: Task field CompleteDate.
    TaskCompleteDate,
    /// `task:Contacts`: Task field Contacts.
    TaskContacts,
    /// `task:DelegationState`: Task field DelegationState.
    TaskDelegationState,
    /// `task:Delegator`: Task field Delegator.
    TaskDelegator,
    /// `task:DueDate`: Task field DueDate.
    TaskDueDate,
    /// `task:IsAssignmentEditable`: Task field IsAssignmentEditable.
    TaskIsAssignmentEditable,
    /// `task:IsComplete`: Task field IsComplete.
    TaskIsComplete,
    /// `task:IsRecurring`: Task field IsRecurring.
    TaskIsRecurring,
    /// `task:IsTeamTask`: Task field IsTeamTask.
    TaskIsTeamTask,
    /// `task:Mileage`: Task field Mileage.
    TaskMileage,
    /// `task:Owner`: Task field Owner.
    TaskOwner,
    /// `task:PercentComplete`: Task field PercentComplete.
    TaskPercentComplete,
    /// `task:Recurrence`: Task field Recurrence.
    TaskRecurrence,
    /// `task:StartDate`: Task field StartDate.
    TaskStartDate,
    /// `task:Status`: Task field Status.
    TaskStatus,
    /// `task:StatusDescription`: Task field StatusDescription.
    TaskStatusDescription,
    /// `task:TotalWork`: Task field TotalWork.
    TaskTotalWork,
}

impl FieldUri {
    /// Every field URI umbox knows.
    pub const ALL: &'static [FieldUri] = &[
        FieldUri::FolderId,
        FieldUri::FolderParentFolderId,
        FieldUri::FolderClass,
        FieldUri::FolderDisplayName,
        FieldUri::FolderTotalCount,
        FieldUri::FolderChildFolderCount,
        FieldUri::FolderUnreadCount,
        FieldUri::FolderEffectiveRights,
        FieldUri::FolderSearchParameters,
        FieldUri::FolderDistinguishedFolderId,
        FieldUri::FolderPermissionSet,
        FieldUri::ItemId,
        FieldUri::ItemParentFolderId,
        FieldUri::ItemClass,
        FieldUri::ItemSubject,
        FieldUri::ItemSensitivity,
        FieldUri::ItemBody,
        FieldUri::ItemAttachments,
        FieldUri::ItemDateTimeReceived,
        FieldUri::ItemSize,
        FieldUri::ItemCategories,
        FieldUri::ItemImportance,
        FieldUri::ItemInReplyTo,
        FieldUri::ItemIsSubmitted,
        FieldUri::ItemIsDraft,
        FieldUri::ItemIsFromMe,
        FieldUri::ItemIsResend,
        FieldUri::ItemIsUnmodified,
        FieldUri::ItemInternetMessageHeaders,
        FieldUri::ItemDateTimeSent,
        FieldUri::ItemDateTimeCreated,
        FieldUri::ItemResponseObjects,
        FieldUri::ItemReminderDueBy,
        FieldUri::ItemReminderIsSet,
        FieldUri::ItemReminderMinutesBeforeStart,
        FieldUri::ItemDisplayCc,
        FieldUri::ItemDisplayTo,
        FieldUri::ItemHasAttachments,
        FieldUri::ItemCulture,
        FieldUri::ItemEffectiveRights,
        FieldUri::ItemLastModifiedName,
        FieldUri::ItemLastModifiedTime,
        FieldUri::ItemIsAssociated,
        FieldUri::ItemWebClientReadFormQueryString,
        FieldUri::ItemWebClientEditFormQueryString,
        FieldUri::ItemConversationId,
        FieldUri::ItemUniqueBody,
        FieldUri::ItemMimeContent,
        FieldUri::MessageSender,
        FieldUri::MessageToRecipients,
        FieldUri::MessageCcRecipients,
        FieldUri::MessageBccRecipients,
        FieldUri::MessageIsReadReceiptRequested,
        FieldUri::MessageIsDeliveryReceiptRequested,
        FieldUri::MessageConversationIndex,
        FieldUri::MessageConversationTopic,
        FieldUri::MessageFrom,
        FieldUri::MessageInternetMessageId,
        FieldUri::MessageIsRead,
        FieldUri::MessageIsResponseRequested,
        FieldUri::MessageReferences,
        FieldUri::MessageReplyTo,
        FieldUri::MessageReceivedBy,
        FieldUri::MessageReceivedRepresenting,
        FieldUri::CalendarStart,
        FieldUri::CalendarEnd,
        FieldUri::CalendarIsAllDayEvent,
        FieldUri::CalendarLegacyFreeBusyStatus,
        FieldUri::CalendarLocation,
        FieldUri::CalendarOrganizer,
        FieldUri::ContactsDisplayName,
        FieldUri::ContactsGivenName,
        FieldUri::ContactsSurname,
        FieldUri::ContactsCompanyName,
        FieldUri::ContactsEmailAddresses,
        FieldUri::ContactsPhoneNumbers,
        FieldUri::ContactsFileAs,
        FieldUri::ItemTextBody,
        FieldUri::MessageReminderMessageData,
        FieldUri::CalendarUid,
        FieldUri::CalendarRecurrenceId,
        FieldUri::CalendarDateTimeStamp,
        FieldUri::CalendarOriginalStart,
        FieldUri::CalendarWhen,
        FieldUri::CalendarIsMeeting,
        FieldUri::CalendarIsCancelled,
        FieldUri::CalendarIsRecurring,
        FieldUri::CalendarMeetingRequestWasSent,
        FieldUri::CalendarIsResponseRequested,
        FieldUri::CalendarItemType,
        FieldUri::CalendarMyResponseType,
        FieldUri::CalendarRequiredAttendees,
        FieldUri::CalendarOptionalAttendees,
        FieldUri::CalendarResources,
        FieldUri::CalendarConflictingMeetingCount,
        FieldUri::CalendarAdjacentMeetingCount,
        FieldUri::CalendarConflictingMeetings,
        FieldUri::CalendarAdjacentMeetings,
        FieldUri::CalendarDuration,
        FieldUri::CalendarTimeZone,
        FieldUri::CalendarAppointmentReplyTime,
        FieldUri::CalendarAppointmentSequenceNumber,
        FieldUri::CalendarAppointmentState,
        FieldUri::CalendarRecurrence,
        FieldUri::CalendarFirstOccurrence,
        FieldUri::CalendarLastOccurrence,
        FieldUri::CalendarModifiedOccurrences,
        FieldUri::CalendarDeletedOccurrences,
        FieldUri::CalendarMeetingTimeZone,
        FieldUri::CalendarStartTimeZone,
        FieldUri::CalendarEndTimeZone,
        FieldUri::CalendarConferenceType,
        FieldUri::CalendarAllowNewTimeProposal,
        FieldUri::CalendarIsOnlineMeeting,
        FieldUri::CalendarMeetingWorkspaceUrl,
        FieldUri::CalendarNetShowUrl,
        FieldUri::ContactsFileAsMapping,
        FieldUri::ContactsInitials,
        FieldUri::ContactsMiddleName,
        FieldUri::ContactsNickname,
        FieldUri::ContactsCompleteName,
        FieldUri::ContactsPhysicalAddresses,
        FieldUri::ContactsAssistantName,
        FieldUri::ContactsBirthday,
        FieldUri::ContactsBusinessHomePage,
        FieldUri::ContactsChildren,
        FieldUri::ContactsCompanies,
        FieldUri::ContactsContactSource,
        FieldUri::ContactsDepartment,
        FieldUri::ContactsGeneration,
        FieldUri::ContactsImAddresses,
        FieldUri::ContactsJobTitle,
        FieldUri::ContactsManager,
        FieldUri::ContactsMileage,
        FieldUri::ContactsOfficeLocation,
        FieldUri::ContactsPostalAddressIndex,
        FieldUri::ContactsProfession,
        FieldUri::ContactsSpouseName,
        FieldUri::ContactsWeddingAnniversary,
        FieldUri::ContactsHasPicture,
        FieldUri::ContactsPhoneticFullName,
        FieldUri::ContactsPhoneticFirstName,
        FieldUri::ContactsPhoneticLastName,
        FieldUri::ContactsAlias,
        FieldUri::ContactsNotes,
        FieldUri::ContactsPhoto,
        FieldUri::ContactsUserSmimeCertificate,
        FieldUri::ContactsMsExchangeCertificate,
        FieldUri::ContactsDirectoryId,
        FieldUri::ContactsManagerMailbox,
        FieldUri::ContactsDirectReports,
        FieldUri::DistributionListMembers,
        FieldUri::MeetingAssociatedCalendarItemId,
        FieldUri::MeetingHasBeenProcessed,
        FieldUri::MeetingIsDelegated,
        FieldUri::MeetingIsOutOfDate,
        FieldUri::MeetingProposedEnd,
        FieldUri::MeetingProposedStart,
        FieldUri::MeetingResponseType,
        FieldUri::MeetingRequestIntendedFreeBusyStatus,
        FieldUri::MeetingRequestMeetingRequestType,
        FieldUri::PostItemPostedTime,
        FieldUri::TaskActualWork,
        FieldUri::TaskAssignedTime,
        FieldUri::TaskBillingInformation,
        FieldUri::TaskChangeCount,
        FieldUri::TaskCompanies,
        FieldUri::TaskCompleteDate,
        FieldUri::TaskContacts,
        FieldUri::TaskDelegationState,
        FieldUri::TaskDelegator,
        FieldUri::TaskDueDate,
        FieldUri::TaskIsAssignmentEditable,
        FieldUri::TaskIsComplete,
        FieldUri::TaskIsRecurring,
        FieldUri::TaskIsTeamTask,
        FieldUri::TaskMileage,
        FieldUri::TaskOwner,
        FieldUri::TaskPercentComplete,
        FieldUri::TaskRecurrence,
        FieldUri::TaskStartDate,
        FieldUri::TaskStatus,
        FieldUri::TaskStatusDescription,
        FieldUri::TaskTotalWork,
    ];

    /// The URI as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldUri::FolderId => "folder:FolderId",
            FieldUri::FolderParentFolderId => "folder:ParentFolderId",
            FieldUri::FolderClass => "folder:FolderClass",
            FieldUri::FolderDisplayName => "folder:DisplayName",
            FieldUri::FolderTotalCount => "folder:TotalCount",
            FieldUri::FolderChildFolderCount => "folder:ChildFolderCount",
            FieldUri::FolderUnreadCount => "folder:UnreadCount",
            FieldUri::FolderEffectiveRights => "folder:EffectiveRights",
            FieldUri::FolderSearchParameters => "folder:SearchParameters",
            FieldUri::FolderDistinguishedFolderId => "folder:DistinguishedFolderId",
            FieldUri::FolderPermissionSet => "folder:PermissionSet",
            FieldUri::ItemId => "item:ItemId",
            FieldUri::ItemParentFolderId => "item:ParentFolderId",
            FieldUri::ItemClass => "item:ItemClass",
            FieldUri::ItemSubject => "item:Subject",
            FieldUri::ItemSensitivity => "item:Sensitivity",
            FieldUri::ItemBody => "item:Body",
            FieldUri::ItemAttachments => "item:Attachments",
            FieldUri::ItemDateTimeReceived => "item:DateTimeReceived",
            FieldUri::ItemSize => "item:Size",
            FieldUri::ItemCategories => "item:Categories",
            FieldUri::ItemImportance => "item:Importance",
            FieldUri::ItemInReplyTo => "item:InReplyTo",
            FieldUri::ItemIsSubmitted => "item:IsSubmitted",
            FieldUri::ItemIsDraft => "item:IsDraft",
            FieldUri::ItemIsFromMe => "item:IsFromMe",
            FieldUri::ItemIsResend => "item:IsResend",
            FieldUri::ItemIsUnmodified => "item:IsUnmodified",
            FieldUri::ItemInternetMessageHeaders => "item:InternetMessageHeaders",
            FieldUri::ItemDateTimeSent => "item:DateTimeSent",
            FieldUri::ItemDateTimeCreated => "item:DateTimeCreated",
            FieldUri::ItemResponseObjects => "item:ResponseObjects",
            FieldUri::ItemReminderDueBy => "item:ReminderDueBy",
            FieldUri::ItemReminderIsSet => "item:ReminderIsSet",
            FieldUri::ItemReminderMinutesBeforeStart => "item:ReminderMinutesBeforeStart",
            FieldUri::ItemDisplayCc => "item:DisplayCc",
            FieldUri::ItemDisplayTo => "item:DisplayTo",
            FieldUri::ItemHasAttachments => "item:HasAttachments",
            FieldUri::ItemCulture => "item:Culture",
            FieldUri::ItemEffectiveRights => "item:EffectiveRights",
            FieldUri::ItemLastModifiedName => "item:LastModifiedName",
            FieldUri::ItemLastModifiedTime => "item:LastModifiedTime",
            FieldUri::ItemIsAssociated => "item:IsAssociated",
            FieldUri::ItemWebClientReadFormQueryString => "item:WebClientReadFormQueryString",
            FieldUri::ItemWebClientEditFormQueryString => "item:WebClientEditFormQueryString",
            FieldUri::ItemConversationId => "item:ConversationId",
            FieldUri::ItemUniqueBody => "item:UniqueBody",
            FieldUri::ItemMimeContent => "item:MimeContent",
            FieldUri::MessageSender => "message:Sender",
            FieldUri::MessageToRecipients => "message:ToRecipients",
            FieldUri::MessageCcRecipients => "message:CcRecipients",
            FieldUri::MessageBccRecipients => "message:BccRecipients",
            FieldUri::MessageIsReadReceiptRequested => "message:IsReadReceiptRequested",
            FieldUri::MessageIsDeliveryReceiptRequested => "message:IsDeliveryReceiptRequested",
            FieldUri::MessageConversationIndex => "message:ConversationIndex",
            FieldUri::MessageConversationTopic => "message:ConversationTopic",
            FieldUri::MessageFrom => "message:From",
            FieldUri::MessageInternetMessageId => "message:InternetMessageId",
            FieldUri::MessageIsRead => "message:IsRead",
            FieldUri::MessageIsResponseRequested => "message:IsResponseRequested",
            FieldUri::MessageReferences => "message:References",
            FieldUri::MessageReplyTo => "message:ReplyTo",
            FieldUri::MessageReceivedBy => "message:ReceivedBy",
            FieldUri::MessageReceivedRepresenting => "message:ReceivedRepresenting",
            FieldUri::CalendarStart => "calendar:Start",
            FieldUri::CalendarEnd => "calendar:End",
            FieldUri::CalendarIsAllDayEvent => "calendar:IsAllDayEvent",
            FieldUri::CalendarLegacyFreeBusyStatus => "calendar:LegacyFreeBusyStatus",
            FieldUri::CalendarLocation => "calendar:Location",
            FieldUri::CalendarOrganizer => "calendar:Organizer",
            FieldUri::ContactsDisplayName => "contacts:DisplayName",
            FieldUri::ContactsGivenName => "contacts:GivenName",
            FieldUri::ContactsSurname => "contacts:Surname",
            FieldUri::ContactsCompanyName => "contacts:CompanyName",
            FieldUri::ContactsEmailAddresses => "contacts:EmailAddresses",
            FieldUri::ContactsPhoneNumbers => "contacts:PhoneNumbers",
            FieldUri::ContactsFileAs => "contacts:FileAs",
            FieldUri::ItemTextBody => "item:TextBody",
            FieldUri::MessageReminderMessageData => "message:ReminderMessageData",
            FieldUri::CalendarUid => "calendar:UID",
            FieldUri::CalendarRecurrenceId => "calendar:RecurrenceId",
            FieldUri::CalendarDateTimeStamp => "calendar:DateTimeStamp",
            FieldUri::CalendarOriginalStart => "calendar:OriginalStart",
            FieldUri::CalendarWhen => "calendar:When",
            FieldUri::CalendarIsMeeting => "calendar:IsMeeting",
            FieldUri::CalendarIsCancelled => "calendar:IsCancelled",
            FieldUri::CalendarIsRecurring => "calendar:IsRecurring",
            FieldUri::CalendarMeetingRequestWasSent => "calendar:MeetingRequestWasSent",
            FieldUri::CalendarIsResponseRequested => "calendar:IsResponseRequested",
            FieldUri::CalendarItemType => "calendar:CalendarItemType",
            FieldUri::CalendarMyResponseType => "calendar:MyResponseType",
            FieldUri::CalendarRequiredAttendees => "calendar:RequiredAttendees",
            FieldUri::CalendarOptionalAttendees => "calendar:OptionalAttendees",
            FieldUri::CalendarResources => "calendar:Resources",
            FieldUri::CalendarConflictingMeetingCount => "calendar:ConflictingMeetingCount",
            FieldUri::CalendarAdjacentMeetingCount => "calendar:AdjacentMeetingCount",
            FieldUri::CalendarConflictingMeetings => "calendar:ConflictingMeetings",
            FieldUri::CalendarAdjacentMeetings => "calendar:AdjacentMeetings",
            FieldUri::CalendarDuration => "calendar:Duration",
            FieldUri::CalendarTimeZone => "calendar:TimeZone",
            FieldUri::CalendarAppointmentReplyTime => "calendar:AppointmentReplyTime",
            FieldUri::CalendarAppointmentSequenceNumber => "calendar:AppointmentSequenceNumber",
            FieldUri::CalendarAppointmentState => "calendar:AppointmentState",
            FieldUri::CalendarRecurrence => "calendar:Recurrence",
            FieldUri::CalendarFirstOccurrence => "calendar:FirstOccurrence",
            FieldUri::CalendarLastOccurrence => "calendar:LastOccurrence",
            FieldUri::CalendarModifiedOccurrences => "calendar:ModifiedOccurrences",
            FieldUri::CalendarDeletedOccurrences => "calendar:DeletedOccurrences",
            FieldUri::CalendarMeetingTimeZone => "calendar:MeetingTimeZone",
            FieldUri::CalendarStartTimeZone => "calendar:StartTimeZone",
            FieldUri::CalendarEndTimeZone => "calendar:EndTimeZone",
            FieldUri::CalendarConferenceType => "calendar:ConferenceType",
            FieldUri::CalendarAllowNewTimeProposal => "calendar:AllowNewTimeProposal",
            FieldUri::CalendarIsOnlineMeeting => "calendar:IsOnlineMeeting",
            FieldUri::CalendarMeetingWorkspaceUrl => "calendar:MeetingWorkspaceUrl",
            FieldUri::CalendarNetShowUrl => "calendar:NetShowUrl",
            FieldUri::ContactsFileAsMapping => "contacts:FileAsMapping",
            FieldUri::ContactsInitials => "contacts:Initials",
            FieldUri::ContactsMiddleName => "contacts:MiddleName",
            FieldUri::ContactsNickname => "contacts:Nickname",
            FieldUri::ContactsCompleteName => "contacts:CompleteName",
            FieldUri::ContactsPhysicalAddresses => "contacts:PhysicalAddresses",
            FieldUri::ContactsAssistantName => "contacts:AssistantName",
            FieldUri::ContactsBirthday => "contacts:Birthday",
            FieldUri::ContactsBusinessHomePage => "contacts:BusinessHomePage",
            FieldUri::ContactsChildren => "contacts:Children",
            FieldUri::ContactsCompanies => "contacts:Companies",
            FieldUri::ContactsContactSource => "contacts:ContactSource",
            FieldUri::ContactsDepartment => "contacts:Department",
            FieldUri::ContactsGeneration => "contacts:Generation",
            FieldUri::ContactsImAddresses => "contacts:ImAddresses",
            FieldUri::ContactsJobTitle => "contacts:JobTitle",
            FieldUri::ContactsManager => "contacts:Manager",
            FieldUri::ContactsMileage => "contacts:Mileage",
            FieldUri::ContactsOfficeLocation => "contacts:OfficeLocation",
            FieldUri::ContactsPostalAddressIndex => "contacts:PostalAddressIndex",
            FieldUri::ContactsProfession => "contacts:Profession",
            FieldUri::ContactsSpouseName => "contacts:SpouseName",
            FieldUri::ContactsWeddingAnniversary => "contacts:WeddingAnniversary",
            FieldUri::ContactsHasPicture => "contacts:HasPicture",
            FieldUri::ContactsPhoneticFullName => "contacts:PhoneticFullName",
            FieldUri::ContactsPhoneticFirstName => "contacts:PhoneticFirstName",
            FieldUri::ContactsPhoneticLastName => "contacts:PhoneticLastName",
            FieldUri::ContactsAlias => "contacts:Alias",
            FieldUri::ContactsNotes => "contacts:Notes",
            FieldUri::ContactsPhoto => "contacts:Photo",
            FieldUri::ContactsUserSmimeCertificate => "contacts:UserSMIMECertificate",
            FieldUri::ContactsMsExchangeCertificate => "contacts:MSExchangeCertificate",
            FieldUri::ContactsDirectoryId => "contacts:DirectoryId",
            FieldUri::ContactsManagerMailbox => "contacts:ManagerMailbox",
            FieldUri::ContactsDirectReports => "contacts:DirectReports",
            FieldUri::DistributionListMembers => "distributionlist:Members",
            FieldUri::MeetingAssociatedCalendarItemId => "meeting:AssociatedCalendarItemId",
            FieldUri::MeetingHasBeenProcessed => "meeting:HasBeenProcessed",
            FieldUri::MeetingIsDelegated => "meeting:IsDelegated",
            FieldUri::MeetingIsOutOfDate => "meeting:IsOutOfDate",
            FieldUri::MeetingProposedEnd => "meeting:ProposedEnd",
            FieldUri::MeetingProposedStart => "meeting:ProposedStart",
            FieldUri::MeetingResponseType => "meeting:ResponseType",
            FieldUri::MeetingRequestIntendedFreeBusyStatus => {
                "meetingRequest:IntendedFreeBusyStatus"
            }
            FieldUri::MeetingRequestMeetingRequestType => "meetingRequest:MeetingRequestType",
            FieldUri::PostItemPostedTime => "postitem:PostedTime",
            FieldUri::TaskActualWork => "task:ActualWork",
            FieldUri::TaskAssignedTime => "task:AssignedTime",
            FieldUri::TaskBillingInformation => "task:BillingInformation",
            FieldUri::TaskChangeCount => "task:ChangeCount",
            FieldUri::TaskCompanies => "task:Companies",
            FieldUri::TaskCompleteDate => "task:CompleteDate",
            FieldUri::TaskContacts => "task:Contacts",
            FieldUri::TaskDelegationState => "task:DelegationState",
            FieldUri::TaskDelegator => "task:Delegator",
            FieldUri::TaskDueDate => "task:DueDate",
            FieldUri::TaskIsAssignmentEditable => "task:IsAssignmentEditable",
            FieldUri::TaskIsComplete => "task:IsComplete",
            FieldUri::TaskIsRecurring => "task:IsRecurring",
            FieldUri::TaskIsTeamTask => "task:IsTeamTask",
            FieldUri::TaskMileage => "task:Mileage",
            FieldUri::TaskOwner => "task:Owner",
            FieldUri::TaskPercentComplete => "task:PercentComplete",
            FieldUri::TaskRecurrence => "task:Recurrence",
            FieldUri::TaskStartDate => "task:StartDate",
            FieldUri::TaskStatus => "task:Status",
            FieldUri::TaskStatusDescription => "task:StatusDescription",
            FieldUri::TaskTotalWork => "task:TotalWork",
        }
    }

    /// Parses a wire URI.
    pub fn parse(uri: &str) -> Option<FieldUri> {
        FieldUri::ALL.iter().copied().find(|f| f.as_str() == uri)
    }
}
/// A property an `ExtendedFieldURI` names: by tag, or by property set and name or id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtendedKey {
    /// `PropertyTag`: a 16-bit property id below the named range.
    Tag(u16),
    /// `DistinguishedPropertySetId`/`PropertySetId` with `PropertyName` or `PropertyId`.
    Named(NamedProperty),
}

/// A parsed `ExtendedFieldURI`, remembering how the client spelled it so the response echoes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtendedField {
    /// What it names.
    pub key: ExtendedKey,
    /// Its type.
    pub prop_type: PropType,
    /// The attributes as sent (name, value), echoed in `ExtendedProperty/ExtendedFieldURI`.
    pub attributes: Vec<(&'static str, String)>,
}

impl ExtendedField {
    /// How a change names this property (a named one is mapped by the store on first use).
    pub fn prop_key(&self) -> PropKey {
        match &self.key {
            ExtendedKey::Tag(id) => PropKey::Tag(PropTag::new(*id, self.prop_type)),
            ExtendedKey::Named(name) => PropKey::Named(name.clone(), self.prop_type),
        }
    }

    /// The tag of a by-tag property.
    pub fn tag(&self) -> Option<PropTag> {
        match &self.key {
            ExtendedKey::Tag(id) => Some(PropTag::new(*id, self.prop_type)),
            ExtendedKey::Named(_) => None,
        }
    }
}

/// `IndexedFieldURI`: a field with a key, such as one e-mail address of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexedField {
    /// `FieldURI`, e.g. `contacts:EmailAddress`.
    pub uri: String,
    /// `FieldIndex`, e.g. `EmailAddress1`.
    pub index: String,
}

/// One property path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropertyPath {
    /// `t:FieldURI`.
    Field(FieldUri),
    /// `t:IndexedFieldURI`.
    Indexed(IndexedField),
    /// `t:ExtendedFieldURI`.
    Extended(ExtendedField),
}

/// `BaseShape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseShape {
    /// Ids only.
    IdOnly,
    /// The commonly used properties.
    Default,
    /// Everything umbox has for the object.
    AllProperties,
}

/// `BodyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// HTML when the item has it, else text.
    Best,
    /// HTML (text converted when there is no HTML).
    Html,
    /// Plain text (HTML converted when there is no text).
    Text,
}

/// A parsed `ItemShape`/`FolderShape`/`AttachmentShape`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The base shape.
    pub base: BaseShape,
    /// Extra properties.
    pub additional: Vec<PropertyPath>,
    /// `IncludeMimeContent`.
    pub include_mime_content: bool,
    /// `BodyType`.
    pub body_type: BodyType,
}

impl Shape {
    /// Whether `field` was asked for explicitly.
    pub fn wants(&self, field: FieldUri) -> bool {
        self.additional.contains(&PropertyPath::Field(field))
    }

    /// The extended properties asked for, in request order.
    pub fn extended(&self) -> impl Iterator<Item = &ExtendedField> {
        self.additional.iter().filter_map(|p| match p {
            PropertyPath::Extended(e) => Some(e),
            _ => None,
        })
    }
}

/// Parses a shape element (`m:ItemShape`, `m:FolderShape`, …).
pub fn parse_shape(shape: &Element) -> Result<Shape, Fault> {
    parse_shape_with_base(shape, None)
}

/// Parses `m:AttachmentShape` (AttachmentResponseShapeType), which has no BaseShape: an item
/// attachment's item is written with all its properties.
pub fn parse_attachment_shape(shape: Option<&Element>) -> Result<Shape, Fault> {
    match shape {
        Some(shape) => parse_shape_with_base(shape, Some(BaseShape::AllProperties)),
        None => Ok(Shape {
            base: BaseShape::AllProperties,
            additional: Vec::new(),
            include_mime_content: false,
            body_type: BodyType::Best,
        }),
    }
}

fn parse_shape_with_base(shape: &Element, implied_base: Option<BaseShape>) -> Result<Shape, Fault> {
    let mut base = None;
    let mut additional = Vec::new();
    let mut include_mime_content = false;
    let mut body_type = BodyType::Best;
    for child in shape.children() {
        if child.namespace() != ns::EWS_TYPES {
            return Err(Fault::schema(format!(
                "unexpected element {} in {}",
                child.name(),
                shape.name()
            )));
        }
        match child.name() {
            "BaseShape" => {
                base = Some(match child.trimmed_text() {
                    "IdOnly" => BaseShape::IdOnly,
                    "Default" => BaseShape::Default,
                    "AllProperties" => BaseShape::AllProperties,
                    other => {
                        return Err(Fault::schema(format!("BaseShape {other:?} is not valid")))
                    }
                })
            }
            "IncludeMimeContent" => include_mime_content = parse_bool(child.trimmed_text())?,
            "BodyType" => {
                body_type = match child.trimmed_text() {
                    "Best" => BodyType::Best,
                    "HTML" => BodyType::Html,
                    "Text" => BodyType::Text,
                    other => return Err(Fault::schema(format!("BodyType {other:?} is not valid"))),
                }
            }
            "AdditionalProperties" => {
                for path in child.children() {
                    additional.push(parse_path(path)?);
                }
            }
            // Accepted and not needed: umbox renders bodies as stored.
            "FilterHtmlContent"
            | "ConvertHtmlCodePageToUTF8"
            | "InlineImageUrlTemplate"
            | "AddBlankTargetToLinks"
            | "MaximumBodySize"
            | "BlockExternalImages"
            | "IncludeAttachmentContent" => {}
            other => {
                return Err(Fault::schema(format!(
                    "unexpected element {other} in {}",
                    shape.name()
                )))
            }
        }
    }
    let base = base
        .or(implied_base)
        .ok_or_else(|| Fault::schema(format!("{} needs a BaseShape", shape.name())))?;
    Ok(Shape {
        base,
        additional,
        include_mime_content,
        body_type,
    })
}

/// Parses one of `t:FieldURI`, `t:IndexedFieldURI`, `t:ExtendedFieldURI`.
pub fn parse_path(path: &Element) -> Result<PropertyPath, Fault> {
    if path.namespace() != ns::EWS_TYPES {
        return Err(Fault::schema(format!(
            "{} is not a property path",
            path.name()
        )));
    }
    match path.name() {
        "FieldURI" => {
            let uri = path.attribute("", "FieldURI").unwrap_or_default();
            FieldUri::parse(uri)
                .map(PropertyPath::Field)
                .ok_or_else(|| Fault::schema(format!("FieldURI {uri:?} is not valid")))
        }
        "IndexedFieldURI" => {
            let uri = path.attribute("", "FieldURI").unwrap_or_default();
            let index = path.attribute("", "FieldIndex").unwrap_or_default();
            if uri.is_empty() || index.is_empty() {
                return Err(Fault::schema(
                    "IndexedFieldURI needs FieldURI and FieldIndex",
                ));
            }
            Ok(PropertyPath::Indexed(IndexedField {
                uri: uri.to_owned(),
                index: index.to_owned(),
            }))
        }
        "ExtendedFieldURI" => parse_extended(path).map(PropertyPath::Extended),
        other => Err(Fault::schema(format!("{other} is not a property path"))),
    }
}

/// Parses an `ExtendedFieldURI` (MS-OXWSCDATA 2.2.4.29): exactly one of PropertyTag, or a
/// property set with a name or id; PropertyType always.
pub fn parse_extended(path: &Element) -> Result<ExtendedField, Fault> {
    let attr = |name| path.attribute("", name);
    let mut attributes = Vec::new();
    let type_name =
        attr("PropertyType").ok_or_else(|| Fault::schema("ExtendedFieldURI needs PropertyType"))?;
    let prop_type = property_type(type_name)
        .ok_or_else(|| Fault::schema(format!("PropertyType {type_name:?} is not supported")))?;
    let set =
        match (attr("DistinguishedPropertySetId"), attr("PropertySetId")) {
            (Some(name), None) => {
                attributes.push(("DistinguishedPropertySetId", name.to_owned()));
                Some(distinguished_set(name).ok_or_else(|| {
                    Fault::schema(format!("DistinguishedPropertySetId {name:?} is not valid"))
                })?)
            }
            (None, Some(guid)) => {
                attributes.push(("PropertySetId", guid.to_owned()));
                Some(Guid::parse(guid).ok_or_else(|| {
                    Fault::schema(format!("PropertySetId {guid:?} is not a GUID"))
                })?)
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(Fault::schema(
                    "both DistinguishedPropertySetId and PropertySetId",
                ))
            }
        };
    let key = match (
        set,
        attr("PropertyTag"),
        attr("PropertyName"),
        attr("PropertyId"),
    ) {
        (None, Some(tag), None, None) => {
            attributes.push(("PropertyTag", tag.to_owned()));
            let id = parse_tag(tag)
                .ok_or_else(|| Fault::schema(format!("PropertyTag {tag:?} is not valid")))?;
            if id >= PropTag::FIRST_NAMED_ID {
                return Err(Fault::schema(format!(
                    "PropertyTag {tag:?} is in the named property range"
                )));
            }
            ExtendedKey::Tag(id)
        }
        (Some(set), None, Some(name), None) if !name.is_empty() => {
            attributes.push(("PropertyName", name.to_owned()));
            ExtendedKey::Named(NamedProperty::new(set, PropName::Name(name.to_owned())))
        }
        (Some(set), None, None, Some(id)) => {
            attributes.push(("PropertyId", id.to_owned()));
            let id = parse_number(id)
                .ok_or_else(|| Fault::schema(format!("PropertyId {id:?} is not a number")))?;
            ExtendedKey::Named(NamedProperty::new(set, PropName::Id(id)))
        }
        _ => return Err(Fault::schema(
            "ExtendedFieldURI needs PropertyTag, or a property set with PropertyName or PropertyId",
        )),
    };
    attributes.push(("PropertyType", type_name.to_owned()));
    Ok(ExtendedField {
        key,
        prop_type,
        attributes,
    })
}

/// xs:boolean.
pub fn parse_bool(text: &str) -> Result<bool, Fault> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(Fault::schema(format!("{other:?} is not a boolean"))),
    }
}

/// Reads a `t:ExtendedProperty` (MS-OXWSCDATA 2.2.4.28): its `ExtendedFieldURI` and its value
/// texts, one from `Value` or any number from `Values`. The texts are typed with [`parse_value`].
pub fn parse_extended_property(property: &Element) -> Result<(ExtendedField, Vec<&str>), Fault> {
    let mut children = property.children();
    let field = match children.next() {
        Some(uri) if uri.is(ns::EWS_TYPES, "ExtendedFieldURI") => parse_extended(uri)?,
        _ => {
            return Err(Fault::schema(
                "ExtendedProperty starts with ExtendedFieldURI",
            ))
        }
    };
    let (texts, multi) = match (children.next(), children.next()) {
        (Some(value), None) if value.is(ns::EWS_TYPES, "Value") => (vec![value.text()], false),
        (Some(values), None) if values.is(ns::EWS_TYPES, "Values") => {
            let texts = values
                .children()
                .map(|v| {
                    if v.is(ns::EWS_TYPES, "Value") {
                        Ok(v.text())
                    } else {
                        Err(Fault::schema("Values holds Value elements"))
                    }
                })
                .collect::<Result<_, _>>()?;
            (texts, true)
        }
        _ => {
            return Err(Fault::schema(
                "ExtendedProperty holds one Value or one Values after ExtendedFieldURI",
            ))
        }
    };
    if field.prop_type.is_multi() != multi {
        return Err(Fault::schema(
            "an array property is written with Values, any other with Value",
        ));
    }
    Ok((field, texts))
}

/// A property value from its EWS text form(s), the inverse of `render::value_texts`: one text for
/// a single-valued type, any number for an array type. `None` when a text does not fit the type.
pub fn parse_value(prop_type: PropType, texts: &[&str]) -> Option<PropValue> {
    use base64::Engine;
    let one = || match texts {
        [text] => Some(*text),
        _ => None,
    };
    let binary = |text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
    };
    Some(match prop_type {
        PropType::Int32 => PropValue::Int32(one()?.trim().parse().ok()?),
        PropType::Int64 => PropValue::Int64(one()?.trim().parse().ok()?),
        PropType::Double => PropValue::Double(one()?.trim().parse().ok()?),
        PropType::Boolean => PropValue::Boolean(parse_bool(one()?.trim()).ok()?),
        PropType::Unicode => PropValue::Unicode(one()?.to_owned()),
        PropType::SystemTime => {
            PropValue::SystemTime(FileTime::from_system_time(time::parse(one()?)?))
        }
        PropType::Guid => PropValue::Guid(Guid::parse(one()?.trim())?),
        PropType::Binary => PropValue::Binary(binary(one()?)?),
        PropType::MultiInt32 => PropValue::MultiInt32(
            texts
                .iter()
                .map(|t| t.trim().parse().ok())
                .collect::<Option<_>>()?,
        ),
        PropType::MultiInt64 => PropValue::MultiInt64(
            texts
                .iter()
                .map(|t| t.trim().parse().ok())
                .collect::<Option<_>>()?,
        ),
        PropType::MultiUnicode => {
            PropValue::MultiUnicode(texts.iter().map(|t| (*t).to_owned()).collect())
        }
        PropType::MultiBinary => {
            PropValue::MultiBinary(texts.iter().map(|t| binary(t)).collect::<Option<_>>()?)
        }
    })
}

/// The EWS `MapiPropertyTypeType` names umbox stores.
pub fn property_type(name: &str) -> Option<PropType> {
    Some(match name {
        "Integer" => PropType::Int32,
        "Long" => PropType::Int64,
        "Boolean" => PropType::Boolean,
        "String" => PropType::Unicode,
        "SystemTime" => PropType::SystemTime,
        "Binary" => PropType::Binary,
        "Double" => PropType::Double,
        "CLSID" => PropType::Guid,
        "IntegerArray" => PropType::MultiInt32,
        "LongArray" => PropType::MultiInt64,
        "StringArray" => PropType::MultiUnicode,
        "BinaryArray" => PropType::MultiBinary,
        _ => return None,
    })
}

/// PSETID_Appointment (EWS `Appointment`): calendar item properties such as
/// PidLidAppointmentStartWhole.
pub const PSETID_APPOINTMENT: Guid = Guid(0x00062002_0000_0000_C000_000000000046);

/// PSETID_Address (EWS `Address`): contact properties such as PidLidEmail1EmailAddress.
pub const PSETID_ADDRESS: Guid = umbox_store::props::property_sets::ADDRESS;

/// `DistinguishedPropertySetId` names to their GUIDs (MS-OXPROPS §1.3.2).
fn distinguished_set(name: &str) -> Option<Guid> {
    Some(match name {
        "Common" => property_sets::COMMON,
        "PublicStrings" => property_sets::PUBLIC_STRINGS,
        "InternetHeaders" => property_sets::INTERNET_HEADERS,
        "UnifiedMessaging" => property_sets::UNIFIED_MESSAGING,
        "Appointment" => PSETID_APPOINTMENT,
        "Task" => Guid(0x00062003_0000_0000_C000_000000000046),
        "Address" => PSETID_ADDRESS,
        "Meeting" => Guid(0x6ED8DA90_450B_101B_98DA_00AA003F1305),
        "CalendarAssistant" => Guid(0x11000E07_B51B_40D6_AF21_CAA85EDAB1D0),
        "Sharing" => Guid(0x00062040_0000_0000_C000_000000000046),
        _ => return None,
    })
}

/// `0x6801` or `26625`.
fn parse_tag(text: &str) -> Option<u16> {
    u16::try_from(parse_number(text)?).ok()
}

fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl FieldUri {
    /// The MAPI property that stores a field directly, for fields that are one property.
    /// Shared by rendering, restrictions and sorting so a field means the same everywhere.
    pub fn property(self) -> Option<umbox_store::props::PropTag> {
        use umbox_store::props::tags;
        Some(match self {
            FieldUri::FolderClass => tags::CONTAINER_CLASS,
            FieldUri::FolderDisplayName => tags::DISPLAY_NAME,
            FieldUri::ItemClass => tags::MESSAGE_CLASS,
            FieldUri::ItemSubject => tags::SUBJECT,
            FieldUri::ItemDateTimeReceived => tags::MESSAGE_DELIVERY_TIME,
            FieldUri::ItemDateTimeSent => tags::CLIENT_SUBMIT_TIME,
            FieldUri::ItemDateTimeCreated => tags::CREATION_TIME,
            FieldUri::ItemLastModifiedTime => tags::LAST_MODIFICATION_TIME,
            FieldUri::ItemSize => tags::MESSAGE_SIZE,
            FieldUri::ItemHasAttachments => tags::HAS_ATTACHMENTS,
            FieldUri::ItemImportance => tags::IMPORTANCE,
            FieldUri::MessageInternetMessageId => tags::INTERNET_MESSAGE_ID,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(xml: &str) -> Element {
        let doc = format!("<r xmlns:t=\"{}\">{xml}</r>", ns::EWS_TYPES);
        umbox_xml::parse(doc.as_bytes(), &umbox_xml::Limits::DEFAULT)
            .unwrap()
            .children()
            .next()
            .unwrap()
            .clone()
    }

    #[test]
    fn field_uris_round_trip() {
        for f in FieldUri::ALL {
            assert_eq!(FieldUri::parse(f.as_str()), Some(*f));
        }
    }

    #[test]
    fn extended_paths_parse() {
        let e = parse_extended(&element(
            r#"<t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>"#,
        ))
        .unwrap();
        assert_eq!(e.tag(), Some(PropTag::new(0x6801, PropType::Int32)));
        let e = parse_extended(&element(
            r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Color" PropertyType="String"/>"#,
        ))
        .unwrap();
        assert_eq!(
            e.key,
            ExtendedKey::Named(NamedProperty::new(
                property_sets::PUBLIC_STRINGS,
                PropName::Name("Color".into())
            ))
        );
        for bad in [
            r#"<t:ExtendedFieldURI PropertyTag="0x6801"/>"#,
            r#"<t:ExtendedFieldURI PropertyTag="0x9001" PropertyType="Integer"/>"#,
            r#"<t:ExtendedFieldURI PropertyName="x" PropertyType="String"/>"#,
            r#"<t:ExtendedFieldURI PropertyTag="zz" PropertyType="Integer"/>"#,
            r#"<t:ExtendedFieldURI PropertySetId="nope" PropertyId="1" PropertyType="Integer"/>"#,
        ] {
            assert!(parse_extended(&element(bad)).is_err(), "{bad}");
        }
    }
}
